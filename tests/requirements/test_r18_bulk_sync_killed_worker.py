"""R18: a bulk sync survives its worker: a `rentsync worker` process SIGKILLed mid-run, a new
one started, and the run goes on from its cursor and ends with every order exactly once in
QuickBooks (count and totals from the emulator's admin API). The emulator is served over HTTP
(the worker is a separate process); the API runs in the test, without a worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rentsync.settings import Settings
from tests.qbo.test_refresh_survives_kill import serve  # noqa: F401  (the fixture)
from tests.requirements.test_r18_bulk_sync import BULK, assert_once_in_qbo, backlog
from tests.sync_rig import Rig, rig_for

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))


def start_worker(rig: Rig, log: Path) -> subprocess.Popen[bytes]:
    settings: Settings = rig.api.app.state.services.settings  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "RENTSYNC_DATA_DIR": str(settings.data_dir),
        "RENTSYNC_SECRET_KEY": settings.secret_key or "",
        "RENTSYNC_QBO_ENVIRONMENT": "emulator",
        "RENTSYNC_QBO_EMULATOR_URL": settings.qbo_emulator_url,
        "RENTSYNC_QBO_CLIENT_ID": settings.qbo_client_id or "",
        "RENTSYNC_QBO_CLIENT_SECRET": settings.qbo_client_secret or "",
        "RENTSYNC_QBO_REDIRECT_URI": settings.qbo_redirect_uri or "",
        "RENTSYNC_STALLED_AFTER_SECONDS": "2",
        "RENTSYNC_SYNC_TRANSIENT_BASE_SECONDS": "0.2",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [RENTSYNC, "worker", "--concurrency", "6"], env=env, stdout=out, stderr=out
        )


async def progress(rig: Rig, bulk_id: int) -> dict[str, Any]:
    response = await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(rig: Rig, bulk_id: int, check: Any, *, timeout: float, log: Path) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await progress(rig, bulk_id)
        if check(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"bulk sync {bulk_id}: {body}\nworker log:\n{tail}")
        await asyncio.sleep(0.1)


async def test_r18_worker_killed_mid_run_resumes_and_posts_every_order_once(
    settings: Settings,
    serve: Any,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    log = tmp_path / "workers.log"
    async with rig_for(settings, serve=serve, with_worker=False) as rig:
        totals = await backlog(rig, 60, prefix="K")
        await rig.connect()
        await rig.map_accounts()
        await rig.faults({"latency": {"distribution": "fixed", "ms": 120}})
        first = start_worker(rig, log)
        workers = [first]
        try:
            created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
            assert created.status_code == 202, created.text
            bulk_id = created.json()["id"]
            before = await until(
                rig,
                bulk_id,
                lambda b: b["state"] == "running" and b["progress"]["created"] >= 10,
                timeout=60,
                log=log,
            )
            assert before["progress"]["waiting"] > 0, "killed too late to test a resume"
            first.kill()
            first.wait(10)
            workers.append(start_worker(rig, log))
            done = await until(rig, bulk_id, lambda b: b["state"] == "done", timeout=120, log=log)
        finally:
            for process in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
        assert done["progress"]["created"] == 60
        assert done["progress"]["differs_from_preview"] == 0
        await rig.faults({})
        await assert_once_in_qbo(rig, totals)
