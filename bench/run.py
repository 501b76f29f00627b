"""`make bench`: runs every benchmark script in bench/ (each *.py except this one), one by one.

    .venv/bin/python bench/run.py              # all of them
    .venv/bin/python bench/run.py reserve      # only bench/reserve.py
    .venv/bin/python bench/run.py soak -- --seconds 60   # the 16-thread soak (bench/soak.py)
    .venv/bin/python bench/run.py import -- --rows 100000   # arguments after -- go to the scripts

A benchmark is a standalone script that creates its own PostgreSQL database (never the dev
database), prints a table of figures and exits non-zero when something is wrong. Add one by
dropping a new bench/<name>.py next to these. The figures we measured are in
docs/performance.md. BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432) names the
server.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    scripts = sorted(
        p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_")
    )
    if argv:
        wanted = set(argv)
        scripts = [p for p in scripts if p.stem in wanted]
        unknown = wanted - {p.stem for p in scripts}
        if unknown:
            print(f"No such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    failed = []
    for script in scripts:
        print(f"\n=== bench/{script.name} ===", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script), *extra], cwd=HERE.parent)
        print(
            f"=== bench/{script.name}: exit {result.returncode}, "
            f"{time.monotonic() - started:.0f} s ===",
            flush=True,
        )
        if result.returncode:
            failed.append(script.name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
