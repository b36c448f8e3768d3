"""Save and load the whole emulator state as JSON (Decimals tagged so money stays exact)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from qbo_emulator.books import Company, Replay
from qbo_emulator.limits import Limiter
from qbo_emulator.oauth import Grant, OAuthApp
from qbo_emulator.scenarios import FaultPlan
from qbo_emulator.state import Emulator


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$decimal"}:
            return Decimal(value["$decimal"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save(emu: Emulator, path: str) -> None:
    companies = []
    for c in emu.companies.values():
        companies.append(
            {
                "realm_id": c.realm_id, "name": c.name, "plan": c.plan, "country": c.country,
                "ast": c.ast, "tz": c.tz.key, "ast_code_id": c.ast_code_id,
                "preset_accounts": c.preset_accounts, "voided": sorted(c.voided),
                "store": c.store, "tombstones": c.tombstones, "next_id": c.next_id,
                "next_address_id": c.next_address_id,
                "replays": {
                    k: [r.status, r.body.decode(), r.content_type] for k, r in c.replays.items()
                },
            }
        )  # fmt: skip
    oauth = emu.oauth
    data = {
        "companies": companies,
        "apps": [a.to_json() for a in oauth.apps.values()],
        "access": {k: vars(g) for k, g in oauth.access.items()},
        "refresh": {k: vars(g) for k, g in oauth.refresh.items()},
    }
    Path(path).write_text(json.dumps(_encode(data)))


def load(emu: Emulator, path: str) -> bool:
    """Replace the whole state with the file's; False (nothing changed) if there is no file."""
    file = Path(path)
    if not file.exists():
        return False
    data = _decode(json.loads(file.read_text()))
    emu.reset()
    for raw in data["companies"]:
        company = Company(
            realm_id=raw["realm_id"], name=raw["name"], plan=raw["plan"], country=raw["country"],
            ast=raw["ast"], tz=ZoneInfo(raw["tz"]), ast_code_id=raw["ast_code_id"],
            preset_accounts=raw["preset_accounts"], voided={tuple(v) for v in raw["voided"]},
            store=raw["store"], tombstones=[tuple(t) for t in raw["tombstones"]],
            next_id=raw["next_id"], next_address_id=raw.get("next_address_id", 1),
            replays={k: Replay(v[0], v[1].encode(), v[2]) for k, v in raw["replays"].items()},
        )  # fmt: skip
        company.preferences = company.store["Preferences"]["1"]
        company.company_info = company.store["CompanyInfo"]["1"]
        emu.companies[company.realm_id] = company
        emu.limiters[company.realm_id] = Limiter(emu.config.limits)
        emu.plans[company.realm_id] = FaultPlan()
    for app in data["apps"]:
        emu.oauth.apps[app["client_id"]] = OAuthApp(
            app["client_id"], app["client_secret"], tuple(app["redirect_uris"])
        )
    emu.oauth.access = {k: Grant(**g) for k, g in data["access"].items()}
    emu.oauth.refresh = {k: Grant(**g) for k, g in data["refresh"].items()}
    return True
