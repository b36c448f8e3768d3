"""One process of the two-process refresh race (run by test_refresh_two_processes.py).

Usage: python -m tests.qbo.refresh_worker '<json>'; prints one JSON line with the outcome.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rentsync import bootstrap
from rentsync.qbo.client import ClientSettings
from rentsync.settings import Settings


async def race(args: dict[str, Any]) -> dict[str, Any]:
    settings = Settings(
        database_url=args["database_url"],
        data_dir=Path(args["data_dir"]),
        secret_key=args["secret_key"],
        worker_concurrency=2,
        qbo_environment="emulator",
        qbo_emulator_url=args["emulator_url"],
        qbo_client_id=args["client_id"],
        qbo_client_secret=args["client_secret"],
        qbo_redirect_uri=args["redirect_uri"],
    )
    go = Path(args["go_file"])
    async with bootstrap.running_services(
        settings, qbo_client_settings=ClientSettings(timeout_seconds=20.0)
    ) as services:
        Path(args["ready_file"]).touch()
        while not go.exists():
            await asyncio.sleep(0.005)
        client = await services.qbo.client_for(args["company_id"])
        results = await asyncio.gather(
            *(client.preferences() for _ in range(args["concurrency"])), return_exceptions=True
        )
        return {
            "errors": [repr(r) for r in results if isinstance(r, BaseException)],
            "ok": sum(1 for r in results if not isinstance(r, BaseException)),
            "refreshes": services.qbo.tokens.refreshes,
        }


def main() -> None:
    outcome = asyncio.run(race(json.loads(sys.argv[1])))
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
