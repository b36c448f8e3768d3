"""R18 with real processes: a bulk sync survives its worker (a `rentsync worker` SIGKILLed
mid-run, a new one started: the run goes on from its cursor and ends with every order exactly
once in QuickBooks, count and totals from the emulator's admin API), and `rentsync bulk-sync`
previews, confirms and follows a run in the terminal. The emulator is served over HTTP; the
API runs in the test, without a worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.qbo.test_refresh_survives_kill import serve  # noqa: F401  (the fixture)
from tests.requirements.test_r18_bulk_sync import BULK, assert_once_in_qbo, backlog
from tests.sync_rig import Rig, rig_for

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))


def process_env(rig: Rig) -> dict[str, str]:
    """The rig's configuration for a rentsync process of its own."""
    settings: Settings = rig.api.app.state.services.settings  # type: ignore[attr-defined]
    return {
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


def start_worker(rig: Rig, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [RENTSYNC, "worker", "--concurrency", "6", "--bulk-concurrency", "6"],
            env=process_env(rig),
            stdout=out,
            stderr=out,
        )


async def bulk_sync_cli(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [RENTSYNC, "bulk-sync", "--company", str(rig.company_id), *args],
        env={**process_env(rig), "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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


async def run_killing_the_worker(
    rig: Rig, log: Path, when: Any, *, timeout: float = 120
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a bulk sync of everything with a `rentsync worker`, SIGKILL the worker once the
    progress satisfies `when`, start a new one; the progress when killed, and when done."""
    first = start_worker(rig, log)
    workers = [first]
    try:
        created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
        assert created.status_code == 202, created.text
        bulk_id = created.json()["id"]
        before = await until(
            rig, bulk_id, lambda b: b["state"] == "running" and when(b), timeout=60, log=log
        )
        first.kill()
        first.wait(10)
        workers.append(start_worker(rig, log))
        done = await until(rig, bulk_id, lambda b: b["state"] == "done", timeout=timeout, log=log)
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    return before, done


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
        before, done = await run_killing_the_worker(
            rig, log, lambda b: b["progress"]["created"] >= 10
        )
        assert before["progress"]["waiting"] > 0, "killed too late to test a resume"
        assert done["progress"]["created"] == 60
        assert done["progress"]["differs_from_preview"] == 0
        await rig.faults({})
        await assert_once_in_qbo(rig, totals)


async def test_r18_worker_killed_in_the_references_phase_resumes_with_every_document_once(
    settings: Settings,
    serve: Any,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    """Killed while the customers and products go first: the new worker goes on in that phase
    (kept in the database), then the orders; each customer, product and invoice once in QBO."""
    log = tmp_path / "workers.log"
    async with rig_for(settings, serve=serve, with_worker=False) as rig:
        await rig.put("products", "RP-1", make.rental_product("Resume Tent"))
        totals = {}
        for number in range(30):
            await rig.put("customers", f"RC-{number}", make.customer(f"Resume Customer {number}"))
            body = make.order(
                f"R{6000 + number}",
                customer_id=f"RC-{number}",
                lines=[("RP-1", "1", "125.00")],
            )
            await rig.put("orders", f"RO-{number}", body)
            totals[f"R{6000 + number}"] = Decimal(body["totals"]["total"])
        await rig.connect()
        await rig.map_accounts()
        await rig.faults({"latency": {"distribution": "fixed", "ms": 150}})
        first = start_worker(rig, log)
        workers = [first]
        try:
            created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
            assert created.status_code == 202, created.text
            bulk_id = created.json()["id"]
            before = await until(
                rig,
                bulk_id,
                lambda b: b["state"] == "running" and b["progress"]["references_settled"] >= 3,
                timeout=60,
                log=log,
            )
            assert before["progress"]["phase"] == "references", "killed too late"
            assert before["progress"]["references_settled"] < 31, "killed too late"
            first.kill()
            first.wait(10)
            workers.append(start_worker(rig, log))
            done = await until(rig, bulk_id, lambda b: b["state"] == "done", timeout=120, log=log)
        finally:
            for process in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
        assert done["progress"]["created"] == 30
        assert (done["progress"]["references"], done["progress"]["references_settled"]) == (31, 31)
        await rig.faults({})
        await assert_once_in_qbo(rig, totals)
        customers = sorted(c["DisplayName"] for c in await rig.qbo_entities("Customer"))
        assert customers == sorted(f"Resume Customer {n}" for n in range(30))
        items = [i["Name"] for i in await rig.qbo_entities("Item")]
        assert items.count("Resume Tent") == 1


async def test_r18_cli_previews_confirms_and_prints_progress(
    settings: Settings,
    serve: Any,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    log = tmp_path / "workers.log"
    async with rig_for(settings, serve=serve, with_worker=False) as rig:
        totals = await backlog(rig, 12, prefix="L")
        await rig.put("orders", "LO-skip", make.order("L9999", no_quickbooks=True))
        not_connected = await bulk_sync_cli(rig, "--yes")
        assert not_connected.returncode == 1
        assert "QuickBooks is not connected" in not_connected.stderr
        await rig.connect()
        await rig.map_accounts()
        worker = start_worker(rig, log)
        try:
            previewed = await bulk_sync_cli(rig, "--not-in-qbo", "--preview")
            assert previewed.returncode == 0, previewed.stderr
            out = " ".join(previewed.stdout.split())  # as printed, less the terminal's wrapping
            assert "preview of 13 documents" in out
            assert "created in QuickBooks" in out and "12" in out
            assert "LO-skip: The order is marked No QuickBooks." in out
            # 12 invoices; 3 customers, 3 products: 2 each; a batch of each kind of operation.
            assert "QuickBooks calls: 3 (24 operations, in batches)" in out
            assert "500 a minute" in out
            assert await rig.qbo_entities("Invoice") == []
            bulk_id = out.split("--confirm ")[1].split()[0]
            ran = await bulk_sync_cli(rig, "--confirm", bulk_id)
            assert ran.returncode == 0, ran.stderr
            assert f"Bulk sync {bulk_id} done: 12 created, 0 updated, 1 skipped, 0 failed" in (
                ran.stdout
            )
            assert "documents/min" in ran.stdout
            again = await bulk_sync_cli(rig, "--confirm", bulk_id)
            assert again.returncode == 1
            assert "only a previewed one starts" in again.stderr
        finally:
            worker.kill()
            worker.wait(10)
        await assert_once_in_qbo(rig, totals)


def _refused_before_anything_runs(args: list[str]) -> str:
    """`rentsync bulk-sync --company 1 ARGS` exits 1 with a message and no traceback (no
    database needed: the options are checked first); its standard error."""
    result = subprocess.run(
        [RENTSYNC, "bulk-sync", "--company", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01"], "--from: "),
        (
            ["--from", "2026-12-01", "--to", "2026-11-01"],
            "--to: 2026-11-01 is before the start of the range, 2026-12-01",
        ),
        (["--kind", "invoice"], "--kind: "),
        (["--numbers", "x" * 22], "--numbers: "),
        (["--numbers", ",,"], "--numbers: "),
    ],
)
def test_r18_cli_bad_selection_is_a_clear_message(args: list[str], message: str) -> None:
    stderr = _refused_before_anything_runs(args)
    assert "Bad selection" in stderr
    assert message in stderr
    # Options are named by the error's field, not by replacing field names in its text.
    assert not any(name in stderr for name in ("date_from", "date_to", "kinds"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--confirm", "1", "--cancel", "1"], "choose one"),
        (["--confirm", "1", "--from", "2026-11-01"], "--confirm takes only --company"),
        (["--cancel", "1", "--kind", "order", "--yes"], "not --kind, --yes"),
        (["--preview", "--yes"], "choose one"),
    ],
)
def test_r18_cli_options_that_contradict_each_other_are_refused(
    args: list[str], message: str
) -> None:
    """A selection given with --confirm or --cancel was silently ignored (the bulk sync's
    selection is the one previewed), and --cancel with --confirm cancelled without a word."""
    assert message in _refused_before_anything_runs(args)
