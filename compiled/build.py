"""Compile federation's hot decoding modules with mypyc: `python -m pnyx.compiled.build`.

`make` runs it before `run`, `test` and `bench`. It compiles only when the stamp does not
match the sources (pnyx.compiled). Without a C compiler or Python's headers it says that pnyx
runs in pure Python and succeeds, unless `--required` (`make test`, `make bench`): then it
fails with the command that installs them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import sysconfig
import time
from pathlib import Path

from pnyx.compiled import BUILD, MODULES, PACKAGE_DIR, STAMP, stale, stamp

ROOT = BUILD.parent.parent
SOURCES = ROOT / "federation"
# The sources under their module names (`make typing-shim` links them).
NAMED = ROOT / "build" / "typing" / "pnyx" / "federation"


def lacking() -> list[str]:
    """What this machine lacks to compile, as Debian packages: a C compiler, Python's headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return [package for package, present in (("gcc", shutil.which(compiler)),
                                             ("python3-dev", headers.exists())) if not present]


def build() -> None:
    """Compile MODULES into one extension group under build/compiled/, then write the stamp."""
    from mypyc.build import mypycify  # slow to import: only when there is something to compile
    from setuptools import Distribution

    STAMP.unlink(missing_ok=True)
    # New files, not old ones overwritten: a running daemon keeps the ones it loaded, and no
    # module compiled before and not now stays on the path.
    shutil.rmtree(PACKAGE_DIR, ignore_errors=True)
    extensions = mypycify([str(NAMED / f"{module}.py") for module in MODULES],
                          group_name="pnyx.federation.native", target_dir=str(BUILD / "c"))
    dist = Distribution({"name": "pnyx-compiled", "ext_modules": extensions})
    command = dist.get_command_obj("build_ext")
    command.build_lib, command.build_temp = str(BUILD), str(BUILD / "temp")
    dist.run_command("build_ext")
    STAMP.write_text(stamp(SOURCES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--required", action="store_true", help="fail when this machine cannot compile")
    args = parser.parse_args()
    if stale(SOURCES) is None:
        return 0
    missing = lacking()
    if missing:
        install = f"apt-get install -y --no-install-recommends {' '.join(missing)}"
        if args.required:
            print(f"compiling federation's decoding modules needs {' and '.join(missing)}: run `{install}`",
                  file=sys.stderr)
            return 1
        print(f"no {' or '.join(missing)} here: pnyx runs in pure Python (`{install}`, then `make`, "
              "compiles its decoding modules)")
        return 0
    started = time.perf_counter()
    build()
    print(f"compiled federation's {', '.join(MODULES)} with mypyc in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
