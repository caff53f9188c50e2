"""Whether pnyx.federation runs its hot decoding modules compiled by mypyc, or as source.

`make` compiles the federation modules in MODULES with mypyc (`python -m pnyx.compiled.build`)
into build/compiled/, and writes a stamp there last: the SHA-256 of every source in
federation/ (compiled code also relies on the types and constants of the modules it imports),
the modules compiled and the Python they were compiled for. pnyx.federation
(federation/__init__.py) asks `federation_path` where its modules come from: the compiled
directory goes first only when the stamp names exactly the sources beside it. So a source
edited since the last build runs as source until `make` compiles it again, never as the stale
code compiled from it, and a machine without a C compiler runs pure Python. `PNYX_PURE=1` in
the environment runs the source anyway (the tests and `make bench` use it to run both).
Compiled code is the same source with Python's semantics, bounds checks included.
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from pathlib import Path

# The federation modules every received change goes through.
MODULES = ("frozen", "columns", "chunk", "ops", "writerules", "wholerecords", "envelope", "changepack",
           "ledger", "indexrows", "verify")
BUILD = Path(__file__).resolve().parent.parent / "build" / "compiled"
PACKAGE_DIR = BUILD / "pnyx" / "federation"
STAMP = BUILD / "STAMP"


def stamp(sources: Path) -> str:
    """What a build from the sources in `sources` (federation/) for this Python records."""
    lines = [f"python {sysconfig.get_config_var('EXT_SUFFIX')}", f"modules {' '.join(MODULES)}"]
    lines += [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in sorted(sources.glob("*.py"))]
    return "\n".join(lines) + "\n"


def stale(sources: Path, built: Path = STAMP) -> str | None:
    """None when the compiled modules were built from exactly these sources; else why not."""
    try:
        recorded = built.read_text()
    except OSError:
        return "they are not compiled (`make compiled` compiles them)"
    if recorded != stamp(sources):
        return "federation/ changed since they were compiled (`make compiled` compiles them again)"
    return None


def why_pure(sources: Path) -> str | None:
    """None when pnyx.federation loads its compiled modules; else why it runs their source."""
    return "PNYX_PURE is set" if os.environ.get("PNYX_PURE") else stale(sources)


def federation_path(path: list[str]) -> list[str]:
    """pnyx.federation's `__path__`: the compiled directory first when it is current."""
    return path if why_pure(Path(path[0])) else [str(PACKAGE_DIR), *path]
