"""Start-up: `rentsync serve` to a healthy /health, cold (new data directory) and warm.

Baseline, measured in the same run: the same interpreter starting, importing nothing of ours and
exiting, so the ratio shows what rentsync itself adds. Target: warm start at most 3 s.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

WARM_RUNS = 5
TARGET_WARM_SECONDS = 3.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def time_serve_to_healthy(data_dir: Path) -> float:
    port = _free_port()
    env = {**os.environ, "RENTSYNC_DATA_DIR": str(data_dir), "RENTSYNC_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    rentsync = str(Path(sys.executable).with_name("rentsync"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [rentsync, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _healthy(port):
            if process.poll() is not None:
                raise RuntimeError(f"rentsync serve exited with {process.returncode}")
            if time.perf_counter() - started > 60:
                raise RuntimeError("rentsync serve was not healthy within 60 s")
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(30)


def time_bare_interpreter() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="rentsync-bench-startup-", dir="/tmp"))
    try:
        baseline = statistics.median(time_bare_interpreter() for _ in range(5))
        cold = time_serve_to_healthy(root / "data")
        warm = [time_serve_to_healthy(root / "data") for _ in range(WARM_RUNS)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    warm_median = statistics.median(warm)
    print(f"baseline: bare python start          {baseline * 1000:8.0f} ms")
    ratio = cold / baseline
    print(f"cold start (initdb + migrate) -> 200 {cold * 1000:8.0f} ms  ({ratio:5.1f}x baseline)")
    print(
        f"warm start -> 200 (median of {WARM_RUNS})     {warm_median * 1000:8.0f} ms  "
        f"({warm_median / baseline:5.1f}x baseline; max {max(warm) * 1000:.0f} ms)"
    )
    verdict = "meets" if warm_median <= TARGET_WARM_SECONDS else "MISSES"
    print(f"target: warm start <= {TARGET_WARM_SECONDS:.0f} s -> {verdict}")


if __name__ == "__main__":
    main()
