"""The `qbo-emulator` command.

qbo-emulator serve --host H --port N [--state-file F] [--no-limits] [--token-ttl N]
    [--refresh-rotation-seconds N] [--refresh-hard-lifetime-seconds N] [--auto-approve]
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from qbo_emulator import choices
from qbo_emulator.limits import LimitsConfig
from qbo_emulator.presets import Preset
from qbo_emulator.state import Config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="qbo-emulator", description="Local QuickBooks Online.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the emulator over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--state-file", default=None, help="load at start, save at shutdown")
    serve.add_argument("--no-limits", action="store_true", help="turn QBO's rate limits off")
    serve.add_argument("--token-ttl", type=int, default=3600, help="access token lifetime (s)")
    serve.add_argument("--refresh-rotation-seconds", type=float,
                       default=choices.REFRESH_TOKEN_ROTATION_SECONDS,
                       help="refresh token value lifetime before rotation (s)")  # fmt: skip
    serve.add_argument("--refresh-hard-lifetime-seconds", type=float,
                       default=choices.REFRESH_TOKEN_HARD_LIFETIME_SECONDS,
                       help="refresh token hard expiry after consent (s)")  # fmt: skip
    serve.add_argument("--auto-approve", action="store_true", help="skip the consent page")
    serve.add_argument("--company", action="append", default=[], metavar="PLAN[:ast]",
                       help="create a company at start, e.g. plus, essentials:ast")  # fmt: skip
    args = parser.parse_args(argv)

    import uvicorn

    from qbo_emulator.app import create_app

    companies = tuple(
        Preset(plan=spec.split(":")[0], ast=spec.endswith(":ast")) for spec in args.company
    )
    config = Config(
        limits=LimitsConfig(enabled=not args.no_limits),
        token_ttl=args.token_ttl,
        refresh_rotation_seconds=args.refresh_rotation_seconds,
        refresh_hard_lifetime_seconds=args.refresh_hard_lifetime_seconds,
        auto_approve=args.auto_approve,
        state_file=args.state_file,
        companies=companies,
    )
    app = create_app(config)
    for company in app.emulator.companies.values():
        print(f"company {company.realm_id} ({company.plan}{', AST' if company.ast else ''})")
    # uvicorn stops gracefully on SIGTERM/SIGINT (the lifespan saves --state-file), then re-raises
    # the signal; exit 0 instead of dying by it (or printing a KeyboardInterrupt traceback).
    previous = {sig: signal.signal(sig, _exit_cleanly) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
