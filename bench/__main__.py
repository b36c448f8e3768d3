"""`make bench`: run every benchmark module in bench/ (or those named on the command line)."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
import time
from pathlib import Path
from typing import TextIO

GOAL_LINE = re.compile(r"^\s*P[1-6]\s")
"""A line of an issue 13 figure (P1-P6) with its goal, gathered into the summary at the end."""


class _Tee(io.TextIOBase):
    """Passes everything through to `out` and keeps the complete lines that `GOAL_LINE` matches."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._partial = ""
        self.goals: list[str] = []

    def write(self, text: str) -> int:
        self._out.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        self.goals.extend(line.strip() for line in lines if GOAL_LINE.match(line))
        return len(text)

    def flush(self) -> None:
        self._out.flush()


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    failed = []
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        _run_all(names, failed)
    if tee.goals:
        print("\n=== issue 13's goals, as measured above (each line says its goal)")
        for line in tee.goals:
            print(f"  {line}")
    if failed:
        print(f"\nFailed benchmarks: {', '.join(failed)}")
    return 1 if failed else 0


def _run_all(names: list[str], failed: list[str]) -> None:
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
