"""R18: a bulk sync's progress is added up as its orders end (the dispatch step settles them),
not counted over every item on each read; at every moment it still adds up to the run."""

from __future__ import annotations

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.requirements.test_r18_bulk_sync import BULK, backlog
from tests.sync_rig import rig_for

ORDERS = 30


async def test_r18_progress_adds_up_to_the_run_at_every_moment_and_settles_each_order_once(
    settings: Settings,
) -> None:
    fast = {"sync_transient_base_seconds": 0.05, "worker_concurrency": 8}
    async with rig_for(settings, settings_overrides=fast) as rig:
        await backlog(rig, ORDERS)
        for number in range(ORDERS):
            await rig.settled("orders", f"BO-{number}")
        await rig.connect()
        await rig.map_accounts()
        # Lost answers and 5xx: orders go back to pending and retry, so they end at any time.
        await rig.faults({"seed": 3, "drop_after_commit_rate": 0.2, "error_rate": 0.1})
        created = await rig.api.post(BULK, json={"start": True}, headers=rig.headers)
        assert created.status_code == 202, created.text
        bulk_id = created.json()["id"]
        reads = 0
        while True:
            response = await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            progress = body["progress"]
            if body["state"] in ("running", "done"):
                reads += 1
                parts = ("waiting", "in_sync", "created", "updated", "skipped", "failed")
                assert sum(progress[part] for part in parts) == ORDERS, progress
            if body["state"] == "done":
                break
            assert reads < 5000, f"bulk sync {bulk_id} never finished: {body}"
        await rig.faults({})
        assert progress["created"] == ORDERS and progress["waiting"] == progress["in_sync"] == 0
        services = rig.api.app.state.services  # type: ignore[attr-defined]
        async with services.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT (SELECT sum((c->>2)::int) FROM jsonb_array_elements(settled_counts) c), "
                "(SELECT count(*) FROM bulk_sync_items WHERE bulk_sync_id = b.id "
                "AND settled_at IS NULL) FROM bulk_syncs b WHERE id = %s",
                (bulk_id,),
            )
            settled, unsettled = await cursor.fetchone()
        assert (settled, unsettled) == (ORDERS, 0)
        # An order changed after the run settled it: the run's figures stay what the run did.
        changed = make.order(
            "B7000", customer_id="BC-0", lines=[("BP-0", "2", "125.00")], version=99
        )
        assert (await rig.put("orders", "BO-0", changed)).status_code < 300
        await rig.settled("orders", "BO-0")
        after = (await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)).json()
        assert after["progress"]["created"] == ORDERS
