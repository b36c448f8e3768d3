"""Benchmarks: each `bench_*.py` module has `main()` and prints figures with a same-run baseline."""
