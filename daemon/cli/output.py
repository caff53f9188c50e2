"""Printing results: a table or lines for people, or JSON with --json for scripts."""

from __future__ import annotations

import json
from typing import Any

from ..services.jsonable import to_jsonable


def print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False))
