"""The daemon's page in the system's headless Chromium, for tests that look at one view."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, sync_playwright

from tests.test_page_browser import CHROMIUM, FLAGS


@contextmanager
def browser_page(url: str) -> Iterator[Page]:
    """`url` opened in a fresh headless Chromium, closed however the test ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(url)
            yield page
        finally:
            browser.close()
