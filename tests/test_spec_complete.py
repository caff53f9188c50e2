"""The spec lists every text and code the code can emit (issue 13).

A second implementation is written from protocol-spec/ alone, so a reason text
or an error code that only the code knows is a gap in the spec. These tests read
the code (its syntax tree or its calls) for what it can emit and fail on any item
the spec does not list; they are the check that keeps the lists complete.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pnyx.federation.errors import Reason

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "protocol-spec"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")

# Modules whose every English string literal is a text the view emits, and the functions
# of charter.py an amendment goes through (their messages become `invalid amendment: {why}`).
VIEW_MODULES = ("federation/view.py", "federation/delegates.py")
VIEW_FUNCTIONS = {"federation/rotation.py": {"exceeds"}, "federation/parity.py": {"parity_gap"}}
AMENDMENT_CHECKS = {"parse_share", "parse_threshold", "__post_init__", "rules_from_plain",
                    "amendment_from_plain"}


def template(node: ast.expr) -> str:
    """A string literal as is; an f-string with every value a `{}`."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    assert isinstance(node, ast.JoinedStr)
    return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)


def texts_in(tree: ast.AST) -> set[str]:
    """Every string literal or f-string holding a space, docstrings and f-string parts left out."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if literal or isinstance(node, ast.JoinedStr):
            text = template(node)
            if " " in text and re.search("[a-z]", text):
                out.add(text)
    return out


def emitted_view_texts() -> set[str]:
    out: set[str] = set()
    for name in VIEW_MODULES:
        out |= texts_in(ast.parse((ROOT / name).read_text()))
    for name, functions in VIEW_FUNCTIONS.items():
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                out |= texts_in(node)
    charter = ast.parse((ROOT / "federation/charter.py").read_text())
    for node in ast.walk(charter):
        if isinstance(node, ast.FunctionDef) and node.name in AMENDMENT_CHECKS:
            for raised in ast.walk(node):
                if isinstance(raised, ast.Raise) and isinstance(raised.exc, ast.Call) and raised.exc.args:
                    out |= texts_in(ast.Expression(raised.exc.args[0]))
    return out


def section(page: str, heading: str) -> str:
    text = (SPEC / page).read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def table_column(text: str, column: str) -> list[str]:
    """The cells of `column` in every markdown table of `text` that has it, backticks removed."""
    out, index = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            index = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if index is None:
            index = next((i for i, c in enumerate(cells) if column in c), -1)
            continue
        if index >= 0 and not set(cells[0]) <= {"-", " "}:
            out.append(cells[index].strip("`"))
    return out


def spec_templates() -> dict[str, str]:
    """Normalized template (values as `{}`) -> as the spec writes it."""
    reasons = section("view.md", "Reason texts")
    listed = table_column(reasons, "template")
    return {PLACEHOLDER.sub("{}", t).replace("\\'", "'"): t for t in listed}


def test_every_reason_text_the_view_can_emit_is_in_view_md() -> None:
    emitted = emitted_view_texts()
    assert len(emitted) > 30  # the extraction found the texts at all
    missing = sorted(emitted - set(spec_templates()))
    assert not missing, f"view.md 'Reason texts' does not list: {missing}"


def test_every_listed_reason_is_shown_by_the_vector_it_names() -> None:
    rows = [line for line in section("view.md", "Reason texts").splitlines()
            if line.startswith("| `") and line.count("|") == 6]
    for row in rows:
        _, text, _, vectors = (c.strip() for c in row.strip().strip("|").split("|"))
        pattern = re.escape(text.strip("`")).replace("\\{", "{").replace("\\}", "}")
        pattern = PLACEHOLDER.sub("[^\"]+", pattern)
        for vector in re.findall(r"`([a-z0-9-]+)`", vectors):
            shown = (SPEC / "vectors" / "view" / f"{vector}.expected.json").read_text()
            assert re.search(f'"{pattern}"', shown), (text, vector)


def test_every_rejection_reason_is_in_changes_md() -> None:
    listed = set(table_column((SPEC / "changes.md").read_text(), "reason"))
    missing = sorted(r.value for r in Reason if r.value not in listed)
    assert not missing, f"changes.md's table of codes does not list: {missing}"


SYNC_CODE = re.compile(r"""(?:ProtocolError|BundleError|error)\(\s*(?:\d{3},\s*)?"([a-z][a-z-]*)\"""")


def test_every_sync_and_bundle_error_code_is_in_the_spec() -> None:
    listed = set(re.findall(r"`([a-z][a-z-]*)`", (SPEC / "sync.md").read_text()
                            + (SPEC / "bundles.md").read_text()))
    emitted: set[str] = set()
    for name in ("federation/syncmsg.py", "federation/sync.py", "federation/bundle.py",
                 "daemon/net/sync_endpoint.py"):
        emitted |= set(SYNC_CODE.findall((ROOT / name).read_text()))
    assert {"bad-message", "damaged", "unsupported-version"} <= emitted
    missing = sorted(emitted - listed)
    assert not missing, f"sync.md / bundles.md do not list: {missing}"


STATUS = re.compile(r"error\((\d{3}),")
EXCEPTION_STATUS = {"HTTPBadRequest": 400, "HTTPUnauthorized": 401, "HTTPForbidden": 403,
                    "HTTPNotFound": 404, "HTTPRequestEntityTooLarge": 413}


def test_every_http_error_status_is_in_openapi() -> None:
    openapi = (SPEC / "openapi.yaml").read_text()
    documented = {int(s) for s in re.findall(r"""^\s+['"]?(\d{3})['"]?:""", openapi, re.MULTILINE)}
    emitted: set[int] = set()
    source = (ROOT / "daemon/http/api.py").read_text()  # the sync endpoint's are in sync.md
    emitted |= {int(s) for s in STATUS.findall(source)}
    emitted |= {status for exc, status in EXCEPTION_STATUS.items() if f"web.{exc}(" in source}
    assert {400, 404, 413} <= emitted
    missing = sorted(emitted - documented)
    assert not missing, f"openapi.yaml documents no response: {missing}"
