"""`make bench`: run every benchmark module in bench/ (or those named on the command line)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name.removesuffix('.py')}")
        print(f"\n=== {module.__name__}: {(module.__doc__ or '').strip().splitlines()[0]}")
        started = time.perf_counter()
        try:
            module.main()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"!!! {name} failed: {type(exc).__name__}: {exc}")
        print(f"--- {name} took {time.perf_counter() - started:.1f} s")
    if failed:
        print(f"\nFailed benchmarks: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
