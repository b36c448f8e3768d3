"""Admin API (JSON) for tests and demos: companies, OAuth apps, limits, faults, acting as a user."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qbo_emulator import faults, operations, persist, presets, wire
from qbo_emulator.books import Company
from qbo_emulator.oauth import OAuthError
from qbo_emulator.scenarios import FaultPlan
from qbo_emulator.state import Emulator


def _json(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status, media_type="application/json")


def _error(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    value = wire.loads(raw)
    return value if isinstance(value, dict) else {}


def _summary(emu: Emulator, company: Company) -> dict[str, Any]:
    return {
        "realmId": company.realm_id,
        "name": company.name,
        "plan": company.plan,
        "country": company.country,
        "ast": company.ast,
        "bookCloseDate": company.preferences.get("AccountingInfoPrefs", {}).get("BookCloseDate"),
        "accounts": company.preset_accounts,
        "limits": emu.limiters[company.realm_id].config.to_json(),
    }


async def list_companies(emu: Emulator, request: Request) -> Response:
    return _json([_summary(emu, c) for c in emu.companies.values()])


async def create_company(emu: Emulator, request: Request) -> Response:
    body = await _body(request)
    try:
        preset = presets.Preset.from_json(body)
    except (ValueError, KeyError) as error:
        return _error(str(error))
    if preset.realm_id and preset.realm_id in emu.companies:
        return _error(f"realm {preset.realm_id} exists", 409)
    company = emu.add_company(preset)
    if "limits" in body:
        limiter = emu.limiters[company.realm_id]
        limiter.config = limiter.config.updated(body["limits"])
    return _json(_summary(emu, company), 201)


def _company(emu: Emulator, realm: str) -> Company | None:
    return emu.companies.get(realm)


async def show_company(emu: Emulator, request: Request, realm: str) -> Response:
    company = _company(emu, realm)
    if company is None:
        return _error("unknown realm", 404)
    return _json({**_summary(emu, company), "entities": company.store})


async def delete_company(emu: Emulator, request: Request, realm: str) -> Response:
    if emu.companies.pop(realm, None) is None:
        return _error("unknown realm", 404)
    return _json({"deleted": realm})


async def reset(emu: Emulator, request: Request) -> Response:
    emu.reset()
    return _json({"reset": True})


async def register_app(emu: Emulator, request: Request) -> Response:
    try:
        app = emu.oauth.register(await _body(request))
    except OAuthError as error:
        return JSONResponse(error.body(), error.status)
    return _json(app.to_json(), 201)


async def list_apps(emu: Emulator, request: Request) -> Response:
    return _json([app.to_json() for app in emu.oauth.apps.values()])


async def issue_tokens(emu: Emulator, request: Request, realm: str) -> Response:
    body = await _body(request)
    client_id = str(body.get("client_id", ""))
    if realm not in emu.companies or client_id not in emu.oauth.apps:
        return _error("unknown realm or client_id", 404)
    return _json(emu.oauth.issue_direct(client_id, realm, emu.now().timestamp()))


async def limits(emu: Emulator, request: Request, realm: str) -> Response:
    limiter = emu.limiters.get(realm)
    if limiter is None:
        return _error("unknown realm", 404)
    if request.method == "PUT":
        limiter.config = limiter.config.updated(await _body(request))
    return _json({**limiter.config.to_json(), "refused": dict(limiter.refused)})


async def fault_plan(emu: Emulator, request: Request, realm: str) -> Response:
    if realm not in emu.plans:
        return _error("unknown realm", 404)
    if request.method == "PUT":
        try:
            emu.plans[realm] = FaultPlan.from_json(await _body(request))
        except (ValueError, KeyError, TypeError) as error:
            return _error(str(error))
    elif request.method == "DELETE":
        emu.plans[realm] = FaultPlan()
    return _json(emu.plans[realm].to_json())


async def act(
    emu: Emulator, request: Request, realm: str, entity: str, entity_id: str, action: str
) -> Response:
    """Act as a QBO user in the UI: edit, void, delete, deactivate, activate."""
    company = _company(emu, realm)
    if company is None:
        return _error("unknown realm", 404)
    stored = company.get(entity, entity_id)
    if stored is None:
        return _error(f"{entity} {entity_id} not found", 404)
    changes = await _body(request)
    opts = operations.Options(allow_duplicate_doc_number=True, as_user=True)
    base = {"Id": entity_id, "SyncToken": stored["SyncToken"]}
    now = emu.now()
    if action not in {"edit", "deactivate", "activate", "void", "delete"}:
        return _error(f"unknown action {action}", 404)
    try:
        with company.atomic():
            if action == "edit":
                result = operations.update(
                    company, entity, {**changes, **base, "sparse": True}, now, opts
                )
            elif action in {"deactivate", "activate"}:
                body = {**base, "sparse": True, "Active": action == "activate"}
                result = operations.update(company, entity, body, now, opts)
            elif action == "void":
                result = operations.void(company, entity, base, now, opts)
            else:
                result = operations.delete(company, entity, base, now, opts)
    except faults.QboFault as fault:
        return _json({"Fault": fault.fault()}, fault.status)
    return _json({entity: result})


async def preferences(emu: Emulator, request: Request, realm: str) -> Response:
    company = _company(emu, realm)
    if company is None:
        return _error("unknown realm", 404)
    for section, values in (await _body(request)).items():
        if isinstance(values, dict):
            company.preferences.setdefault(section, {}).update(values)
        else:
            company.preferences[section] = values
    company.touch(company.preferences, emu.now())
    return _json({"Preferences": company.preferences})


async def close_books(emu: Emulator, request: Request, realm: str) -> Response:
    company = _company(emu, realm)
    if company is None:
        return _error("unknown realm", 404)
    closing = (await _body(request)).get("date")
    prefs = company.preferences.setdefault("AccountingInfoPrefs", {})
    if closing:
        prefs["BookCloseDate"] = str(closing)
    else:
        prefs.pop("BookCloseDate", None)
    company.touch(company.preferences, emu.now())
    return _json({"BookCloseDate": prefs.get("BookCloseDate")})


async def save(emu: Emulator, request: Request) -> Response:
    path = (await _body(request)).get("path") or emu.config.state_file
    if not path:
        return _error("no path given and no --state-file configured")
    persist.save(emu, str(path))
    return _json({"saved": str(path)})


async def load(emu: Emulator, request: Request) -> Response:
    path = (await _body(request)).get("path") or emu.config.state_file
    if not path:
        return _error("no path given and no --state-file configured")
    try:
        if not persist.load(emu, str(path)):
            return _error(f"no state file at {path}", 404)
    except (OSError, json.JSONDecodeError) as error:
        return _error(str(error))
    return _json({"loaded": str(path), "companies": list(emu.companies)})


_R = r"/admin/companies/(?P<realm>[^/]+)"
ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("GET", "/admin/companies", list_companies),
    ("POST", "/admin/companies", create_company),
    ("GET", _R, show_company),
    ("DELETE", _R, delete_company),
    ("POST", "/admin/reset", reset),
    ("POST", "/admin/apps", register_app),
    ("GET", "/admin/apps", list_apps),
    ("POST", _R + "/tokens", issue_tokens),
    ("GET", _R + "/limits", limits),
    ("PUT", _R + "/limits", limits),
    ("GET", _R + "/faults", fault_plan),
    ("PUT", _R + "/faults", fault_plan),
    ("DELETE", _R + "/faults", fault_plan),
    ("PATCH", _R + "/preferences", preferences),
    ("POST", _R + "/close-books", close_books),
    ("POST", _R + r"/act/(?P<entity>[A-Za-z]+)/(?P<entity_id>[^/]+)/(?P<action>[a-z]+)", act),
    ("POST", "/admin/save", save),
    ("POST", "/admin/load", load),
)
