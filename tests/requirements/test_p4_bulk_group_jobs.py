"""A bulk sync's documents run by group jobs (issue 13, P4): one job fetched per group, its
members (each document's ordinary sync job) claimed together and reconciled as their own jobs.

The group path must end where the job-per-document path ends (B1: every document once in
QuickBooks; R18 progress), keep a real-time change of a member neither overtaken nor lost (B9),
give each member its own retry (the retry table decides per document), survive a worker killed
mid-group (the reaper hands the members back as ordinary jobs: B1's write intents) and a cancel
mid-group (R18: members in the sync finish, nothing more is handed over).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from rentsync.settings import Settings
from rentsync.store.documents import BULK_SYNC_QUEUE, GROUP_TASK, SYNC_TASK
from tests import ingest_fixtures as make
from tests.qbo.test_refresh_survives_kill import serve  # noqa: F401  (the fixture)
from tests.requirements.test_r18_bulk_sync import (
    BULK,
    assert_once_in_qbo,
    backlog,
    paid_backlog,
    wait_for,
)
from tests.requirements.test_r18_bulk_sync_processes import start_worker, until
from tests.sync_rig import Rig, rig_for


async def _rows(rig: Rig, query: str, *params: Any) -> list[tuple[Any, ...]]:
    services = rig.api.app.state.services  # type: ignore[attr-defined]
    async with services.pool.connection() as conn:
        cursor = await conn.execute(query, params)
        return [tuple(row) for row in await cursor.fetchall()]


async def group_jobs(rig: Rig) -> list[tuple[int, str, list[int]]]:
    """Every group job: id, status, member job ids."""
    rows = await _rows(
        rig,
        "SELECT id, status::text, args->'job_ids' FROM procrastinate_jobs WHERE task_name = %s "
        "ORDER BY id",
        GROUP_TASK,
    )
    return [(int(i), str(s), [int(m) for m in members]) for i, s, members in rows]


async def member_jobs(rig: Rig, ids: list[int]) -> dict[int, tuple[str, int, bool]]:
    """Member jobs: status, attempts, whether still held (due later: run by its group)."""
    rows = await _rows(
        rig,
        "SELECT id, status::text, attempts, scheduled_at IS NOT NULL AND scheduled_at > now() "
        "FROM procrastinate_jobs WHERE id = ANY(%s)",
        ids,
    )
    return {int(i): (str(s), int(a), bool(h)) for i, s, a, h in rows}


async def _bulk_sync_of_everything(rig: Rig, *, timeout: float = 90) -> dict[str, Any]:
    created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
    assert created.status_code == 202, created.text
    return await wait_for(rig, created.json()["id"], "done", timeout=timeout)


async def _outcome(settings: Settings, group_size: int) -> tuple[Any, ...]:
    async with rig_for(settings, settings_overrides={"bulk_group_size": group_size}) as rig:
        await paid_backlog(rig)
        totals = await backlog(rig, 24, prefix="G")
        for number in range(24):
            await rig.settled("orders", f"GO-{number}")
        await rig.connect()
        await rig.map_accounts()
        done = await _bulk_sync_of_everything(rig)
        invoices = sorted(
            (i["DocNumber"], Decimal(str(i["TotalAmt"]))) for i in await rig.qbo_entities("Invoice")
        )
        assert {n: t for n, t in invoices if n.startswith("G")} == totals
        payments = sorted(Decimal(str(p["TotalAmt"])) for p in await rig.qbo_entities("Payment"))
        customers = sorted(c["DisplayName"] for c in await rig.qbo_entities("Customer"))
        groups = await group_jobs(rig)
        members = [job_id for _, _, ids in groups for job_id in ids]
        states = await member_jobs(rig, members)
        documents = await _rows(
            rig,
            "SELECT id FROM procrastinate_jobs WHERE task_name = %s AND queue_name = %s "
            "AND priority = -2 AND (args->>'company_id')::bigint = %s",
            SYNC_TASK,
            BULK_SYNC_QUEUE,
            rig.company_id,
        )
        progress = {
            k: v for k, v in done["progress"].items() if not k.endswith(("_at", "rate", "eta"))
        }
        return progress, invoices, payments, customers, groups, states, documents


async def test_p4_group_jobs_end_where_a_job_per_document_ends(settings: Settings) -> None:
    """The same backlog (orders, an order paid and refunded, one paid and voided, a quote)
    synced with group jobs and with a job per document: the same progress and the same
    QuickBooks books; with groups, every document's job ran in a group, each once."""
    alone = await _outcome(settings, 0)
    grouped = await _outcome(settings, 10)
    assert alone[4] == [], "group jobs with a group size of 0"
    assert grouped[:4] == alone[:4]
    groups = grouped[4]
    assert len(groups) >= 3, groups
    assert all(status == "succeeded" for _, status, _ in groups), groups
    members = [job_id for _, _, ids in groups for job_id in ids]
    assert len(members) == len(set(members)), "a document's job in two groups"
    states, documents = grouped[5], grouped[6]
    # The run's document jobs (24 orders + 2 orders, a quote, 2 payments and a refund) are all
    # members of groups, each ended once.
    assert sorted(members) == sorted(int(row[0]) for row in documents)
    assert {state for state, _, _ in states.values()} == {"succeeded"}
    # procrastinate counts a run when the job ends: each ran once.
    assert all(attempts == 1 for _, attempts, _ in states.values()), states
    # Run by their groups, not fetched by the lane (which leaves them until due).
    assert sum(held for _, _, held in states.values()) >= len(members) - 2


async def test_p4_a_real_time_change_of_a_member_racing_its_claim_is_neither_overtaken_nor_lost(
    settings: Settings,
) -> None:
    """A change of an order arrives while its group runs (claimed or about to be): its
    real-time job waits for the member's end, then syncs the change; one invoice, as changed."""
    async with rig_for(settings, settings_overrides={"bulk_group_size": 8}) as rig:
        totals = await backlog(rig, 24, prefix="R")
        await rig.connect()
        await rig.map_accounts()
        await rig.faults({"latency": {"distribution": "fixed", "ms": 150}})
        created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
        bulk_id = created.json()["id"]
        deadline = asyncio.get_running_loop().time() + 30
        running: list[tuple[Any, ...]] = []
        while not running:
            assert asyncio.get_running_loop().time() < deadline, "no member ever ran"
            running = await _rows(
                rig,
                "SELECT m.args->>'source_id' FROM procrastinate_jobs g "
                "JOIN procrastinate_jobs m ON m.id = ANY(ARRAY(SELECT jsonb_array_elements_text("
                "g.args->'job_ids'))::bigint[]) WHERE g.task_name = %s AND g.status = 'doing' "
                "AND m.status IN ('doing', 'todo') AND m.args->>'doc_type' = 'order' "
                "ORDER BY m.status, m.id",
                GROUP_TASK,
            )
            await asyncio.sleep(0.02)
        changed: dict[str, Decimal] = {}
        for (source_id,) in running[:3]:
            number = int(str(source_id).removeprefix("RO-"))
            body = make.order(
                f"R{7000 + number}",
                customer_id=f"RC-{number % 3}",
                lines=[(f"RP-{number % 3}", "9", "125.00")],
            )
            await rig.put("orders", str(source_id), body)
            changed[f"R{7000 + number}"] = Decimal(body["totals"]["total"])
        done = await wait_for(rig, bulk_id, "done", timeout=90)
        assert done["progress"]["created"] == 24
        for (source_id,) in running[:3]:
            status = await rig.settled("orders", str(source_id), revision=2, timeout=30)
            assert status["state"] == "synced"
        await rig.faults({})
        await assert_once_in_qbo(rig, {**totals, **changed})


async def test_p4_a_member_s_retry_later_retries_that_document_alone(settings: Settings) -> None:
    """5xx answers (transient: the retry table says again in a moment) for some of a group's
    writes: those members' own jobs go back with their retry time and run again; the others
    end in the group; every order once in QuickBooks."""
    # Six slots (a window of 12): the invoices travel in several batches, some of them
    # refused, none carrying every member.
    fast = {"sync_transient_base_seconds": 0.05, "bulk_group_size": 4, "bulk_concurrency": 6}
    async with rig_for(settings, settings_overrides=fast) as rig:
        totals = await backlog(rig, 30, prefix="T")
        await rig.connect()
        await rig.map_accounts()
        await rig.faults({"latency": {"distribution": "fixed", "ms": 50}})
        created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
        bulk_id = created.json()["id"]
        # The faults once the customers and products are in (their own jobs, not groups').
        deadline = asyncio.get_running_loop().time() + 30
        while (await wait_for(rig, bulk_id, "running"))["progress"]["phase"] != "orders":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        await rig.faults({"seed": 11, "error_rate": 0.3})
        done = await wait_for(rig, bulk_id, "done", timeout=90)
        await rig.faults({})
        assert done["progress"]["created"] == 30
        await assert_once_in_qbo(rig, totals)
        members = [job_id for _, _, ids in await group_jobs(rig) for job_id in ids]
        states = await member_jobs(rig, members)
        assert {state for state, _, _ in states.values()} == {"succeeded"}
        # A job's attempts count its runs (procrastinate adds one as each run ends).
        retried = [job_id for job_id, (_, attempts, _) in states.items() if attempts > 1]
        assert retried, "no member was retried: the faults did not reach the group's writes"
        assert len(retried) < len(members), "every member retried: not decided per document"
        history = await _rows(
            rig,
            "SELECT count(*) FROM sync_attempts WHERE doc_type = 'order' "
            "AND outcome LIKE 'retrying%%'",
        )
        assert int(history[0][0]) >= 1


async def test_r18_cancel_mid_group_finishes_the_members_in_the_sync_and_hands_over_no_more(
    settings: Settings,
) -> None:
    lanes = {"bulk_concurrency": 4, "bulk_group_size": 4}
    async with rig_for(settings, settings_overrides=lanes) as rig:
        await backlog(rig, 40, prefix="X")
        await rig.connect()
        await rig.map_accounts()
        await rig.faults({"latency": {"distribution": "fixed", "ms": 100}})
        created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
        bulk_id = created.json()["id"]
        deadline = asyncio.get_running_loop().time() + 30
        while not [g for g in await group_jobs(rig) if g[1] == "doing"]:
            assert asyncio.get_running_loop().time() < deadline, "no group ever ran"
            await asyncio.sleep(0.02)
        cancelled = await rig.api.post(f"{BULK}/{bulk_id}/cancel", headers=rig.headers)
        assert cancelled.status_code == 200, cancelled.text
        deadline = asyncio.get_running_loop().time() + 30
        while (body := await wait_for(rig, bulk_id, "cancelled"))["progress"]["in_sync"]:
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        progress = (await wait_for(rig, bulk_id, "cancelled"))["progress"]
        assert progress["waiting"] > 0, "cancelled too late to test it"
        assert progress["created"] + progress["waiting"] == 40
        assert progress["failed"] == progress["in_sync"] == 0
        groups = await group_jobs(rig)
        members = [job_id for _, _, ids in groups for job_id in ids]
        assert {status for _, status, _ in groups} == {"succeeded"}
        states = await member_jobs(rig, members)
        assert {state for state, _, _ in states.values()} == {"succeeded"}
        assert len(members) == progress["created"], "a member left behind, or one handed late"
        invoices = await rig.qbo_entities("Invoice")
        assert len(invoices) == progress["created"]
        assert len({i["DocNumber"] for i in invoices}) == len(invoices)


async def test_r18_worker_killed_mid_group_ends_with_every_order_once(
    settings: Settings,
    serve: Any,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    """A `rentsync worker` SIGKILLed while a group job runs with members claimed: the reaper
    hands the members back (ordinary jobs: write intent, look-up before create) and the
    group job too; a new worker ends the run with every order once in QuickBooks."""
    log = tmp_path / "workers.log"
    async with rig_for(settings, serve=serve, with_worker=False) as rig:
        totals = await backlog(rig, 50, prefix="K")
        await rig.connect()
        await rig.map_accounts()
        await rig.faults({"latency": {"distribution": "fixed", "ms": 150}})
        first = start_worker(rig, log)
        workers = [first]
        try:
            created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
            assert created.status_code == 202, created.text
            bulk_id = created.json()["id"]
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                claimed = await _rows(
                    rig,
                    "SELECT count(*) FROM procrastinate_jobs g JOIN procrastinate_jobs m "
                    "ON m.id = ANY(ARRAY(SELECT jsonb_array_elements_text(g.args->'job_ids'))"
                    "::bigint[]) WHERE g.task_name = %s AND g.status = 'doing' "
                    "AND m.status = 'doing'",
                    GROUP_TASK,
                )
                body = await wait_for(rig, bulk_id, "running", "done")
                if int(claimed[0][0]) >= 2 and body["progress"]["created"] >= 3:
                    break
                assert asyncio.get_running_loop().time() < deadline, body
                await asyncio.sleep(0.02)
            first.kill()
            first.wait(10)
            assert body["progress"]["waiting"] > 0, "killed too late to test a resume"
            workers.append(start_worker(rig, log))
            done = await until(rig, bulk_id, lambda b: b["state"] == "done", timeout=120, log=log)
        finally:
            for process in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
        assert done["progress"]["created"] == 50
        assert done["progress"]["differs_from_preview"] == 0
        await rig.faults({})
        await assert_once_in_qbo(rig, totals)
        members = [job_id for _, _, ids in await group_jobs(rig) for job_id in ids]
        states = await member_jobs(rig, members)
        assert {state for state, _, _ in states.values()} == {"succeeded"}, states
        assert any(attempts > 1 for _, attempts, _ in states.values()), "none handed back"
