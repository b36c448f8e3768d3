"""B1 under chaos (issue 8): separate processes (PostgreSQL, the QBO emulator, rentsync's API,
several workers), QBO faults on, workers killed with SIGKILL at random (and, in the long run,
PostgreSQL killed and restarted twice) while a seeded scenario of creates, updates, deletes,
restores, renames, customer moves and late older PUTs goes through the public API. At the end
QBO must equal the source exactly: no duplicates, nothing left behind, nothing stale, nothing
stuck, and the status API agreeing with QBO.

`make test` runs the short version (about 100 documents, 2 workers, 4 kills); `make chaos` the
long one (RENTSYNC_CHAOS=long: 2,000 documents, 32 kills, PostgreSQL restarted twice).
RENTSYNC_CHAOS_SEED=N replays another scenario (the kill moments and QBO's faults follow the
seed too; the processes' timing does not); RENTSYNC_CHAOS_TOKEN_TTL=S sets the emulator's access
token lifetime (below 300 s every request refreshes the token, so kills land in refreshes);
RENTSYNC_CHAOS_KEEP=1 keeps the run's logs and report under /tmp even when it passes (a failed
run always keeps them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.chaos.harness import long_config, run_chaos, short_config
from tests.chaos.verify import KINDS

# Read at import: the autouse fixture `clean_environ` hides RENTSYNC_* from the tests.
MODE = os.environ.get("RENTSYNC_CHAOS", "short").strip().lower() or "short"
SEED = os.environ.get("RENTSYNC_CHAOS_SEED", "").strip()
TOKEN_TTL = os.environ.get("RENTSYNC_CHAOS_TOKEN_TTL", "").strip()
KEEP = bool(os.environ.get("RENTSYNC_CHAOS_KEEP", "").strip())


@pytest.mark.chaos
@pytest.mark.e2e
async def test_b1_chaos_qbo_equals_the_source_after_kills_and_faults() -> None:
    if MODE not in ("short", "long"):
        pytest.fail(f"RENTSYNC_CHAOS must be short or long, got {MODE!r}")
    ttl = int(TOKEN_TTL) if TOKEN_TTL else None
    config = (
        long_config(int(SEED or 20260802), ttl)
        if MODE == "long"
        else short_config(int(SEED or 20260801), ttl)
    )
    # Under /tmp: run as root, the PostgreSQL user must reach the data directory.
    root = Path(tempfile.mkdtemp(prefix=f"rentsync-chaos-{config.name}-", dir="/tmp"))
    root.chmod(0o755)
    result = await run_chaos(config, root)
    report = result.report()
    (root / "report.txt").write_text(report)
    print()
    print(report)
    if result.ok and not KEEP:
        shutil.rmtree(root, ignore_errors=True)
    assert result.ok, (
        f"chaos run ({config.name}, seed {config.seed}) failed: "
        + ", ".join(f"{k}={result.verdict.count(k)}" for k in KINDS)
        + f", {len(result.anomalies)} API answers not as expected; diagnosis above "
        f"(logs in {root})"
    )
