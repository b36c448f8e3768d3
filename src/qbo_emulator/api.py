"""The Accounting API v3 surface: /v3/company/{realmId}/..."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qbo_emulator import choices, faults, operations, query, wire
from qbo_emulator.books import Company, Entity, Replay
from qbo_emulator.cdc import changes
from qbo_emulator.entities import BY_SEGMENT, SPECS
from qbo_emulator.state import Emulator
from qbo_emulator.taxservice import create_tax_code

JSON = "application/json;charset=UTF-8"
Work = Callable[[Company, bool], tuple[int, dict[str, Any]]]


def _response(emu: Emulator, status: int, body: bytes, content_type: str, tid: str) -> Response:
    return Response(body, status, headers={"intuit_tid": tid}, media_type=content_type)


def _envelope(company: Company, emu: Emulator, payload: dict[str, Any]) -> dict[str, Any]:
    payload["time"] = wire.iso_millis(company.local(emu.now()))
    return payload


def fault_envelope(company: Company, emu: Emulator, fault: faults.QboFault) -> dict[str, Any]:
    return _envelope(company, emu, {"Fault": fault.fault()})


async def _guarded(
    emu: Emulator, request: Request, realm: str, work: Work, *, write: bool, batch: bool = False
) -> Response:
    tid = emu.next_tid()
    now = emu.now()
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    grant = emu.oauth.authenticate(token, now.timestamp()) if token else None
    epoch_ms = int(now.timestamp() * 1000)
    if grant is None:
        detail = "Token expired or invalid" if token else "Authorization header missing"
        body = wire.dumps(faults.gateway_body(401, detail, epoch_ms))
        response = _response(emu, 401, body, JSON, tid)
        response.headers["WWW-Authenticate"] = choices.WWW_AUTHENTICATE
        return response
    company = emu.companies.get(realm)
    if company is None or grant.realm_id != realm:
        detail = "The access token is not authorized for this company (realmId)"
        return _response(
            emu, 403, wire.dumps(faults.gateway_body(403, detail, epoch_ms)), JSON, tid
        )
    limiter = emu.limiters[realm]
    time_text = wire.iso_millis(company.local(now))
    if not limiter.admit(emu.config.monotonic(), batch=batch, app=grant.client_id):
        return _response(emu, 429, faults.throttle_xml(time_text), "application/xml", tid)
    try:
        decision = emu.plans[realm].decide()
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.throttle:
            return _response(emu, 429, faults.throttle_xml(time_text), "application/xml", tid)
        if decision.error:
            fault = faults.system_failure(
                choices.INJECTED_ERROR_STATUS, choices.INJECTED_ERROR_CODE
            )
            body = wire.dumps(fault_envelope(company, emu, fault))
            return _response(emu, fault.status, body, JSON, tid)
        request_id = request.query_params.get("requestid") if write else None
        if request_id:
            if len(request_id) > choices.REQUESTID_MAX_LENGTH:
                fault = faults.string_too_long(
                    "requestid", choices.REQUESTID_MAX_LENGTH, len(request_id)
                )
                return _response(
                    emu, 400, wire.dumps(fault_envelope(company, emu, fault)), JSON, tid
                )
            replay = company.replays.get(request_id)
            if replay is not None:
                return _response(emu, replay.status, replay.body, replay.content_type, tid)
        try:
            status, payload = work(company, decision.locked)
        except faults.QboFault as fault:
            status, payload = fault.status, {"Fault": fault.fault()}
        raw = wire.dumps(_envelope(company, emu, payload))
        if request_id:
            company.replays[request_id] = Replay(status, raw, JSON)
        if write and decision.drop_after_commit and status == 200:
            raise faults.ConnectionDropped(f"dropped after commit (intuit_tid {tid})")
        return _response(emu, status, raw, JSON, tid)
    finally:
        limiter.release(grant.client_id)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return wire.loads(raw)
    except ValueError:
        return None


def _parse_error() -> faults.QboFault:
    return faults.QboFault(
        "2010",
        "Request has invalid or unsupported property",
        "ObjectParserError: invalid JSON body",
    )


def perform(
    emu: Emulator,
    company: Company,
    entity: str,
    body: Any,
    operation: str,
    *,
    void: bool,
    allow_dup: bool,
    locked: bool,
) -> Entity:
    if not isinstance(body, dict):
        raise _parse_error()
    with company.atomic():  # a write that fails partway leaves nothing half-applied
        return _perform(emu, company, entity, body, operation, void=void, allow_dup=allow_dup,
                        locked=locked)  # fmt: skip


def _perform(
    emu: Emulator,
    company: Company,
    entity: str,
    body: Entity,
    operation: str,
    *,
    void: bool,
    allow_dup: bool,
    locked: bool,
) -> Entity:
    now = emu.now()
    opts = operations.Options(allow_duplicate_doc_number=allow_dup)
    if operation in {"update", "delete", "void"} or void or body.get("Id") is not None:
        key = (entity, str(body.get("Id")))
        if locked or key in emu.plans[company.realm_id].locked_objects:
            raise faults.locked()
    if operation == "delete":
        return operations.delete(company, entity, body, now, opts)
    if operation == "void" or void:
        wanted = "operation" if operation == "void" else "include"
        if operations.spec_for(entity).void != wanted:
            raise faults.unsupported_operation(f"Operation Void is not supported for {entity} here")
        return operations.void(company, entity, body, now, opts)
    if body.get("Id") is not None:
        return operations.update(company, entity, body, now, opts)
    return operations.create(company, entity, body, now, opts)


async def write(emu: Emulator, request: Request, realm: str, segment: str) -> Response:
    entity = BY_SEGMENT.get(segment.lower())
    body = await _json_body(request)
    params = request.query_params
    include = {p.strip().lower() for p in params.get("include", "").split(",")}

    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        if entity is None:
            raise faults.unsupported_operation(f"Unsupported entity {segment}")
        obj = perform(
            emu,
            company,
            entity,
            body,
            params.get("operation", "create").lower(),
            void="void" in include,
            allow_dup="allowduplicatedocnum" in include,
            locked=locked,
        )
        return 200, {entity: obj}

    return await _guarded(emu, request, realm, work, write=True)


async def read(
    emu: Emulator, request: Request, realm: str, segment: str, entity_id: str
) -> Response:
    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        entity = BY_SEGMENT.get(segment.lower())
        if entity is None:
            raise faults.unsupported_operation(f"Unsupported entity {segment}")
        if entity == "CompanyInfo":
            return 200, {"CompanyInfo": company.require("CompanyInfo", "1")}
        operations.check_id(entity, entity_id)
        return 200, {entity: company.require(entity, entity_id)}

    return await _guarded(emu, request, realm, work, write=False)


async def preferences(emu: Emulator, request: Request, realm: str) -> Response:
    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        return 200, {"Preferences": company.require("Preferences", "1")}

    return await _guarded(emu, request, realm, work, write=False)


async def run_query(emu: Emulator, request: Request, realm: str) -> Response:
    if request.method == "POST":
        text = (await request.body()).decode()
    else:
        text = request.query_params.get("query", "")

    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        return 200, {"QueryResponse": query.run(company, text)}

    return await _guarded(emu, request, realm, work, write=False)


async def batch(emu: Emulator, request: Request, realm: str) -> Response:
    body = await _json_body(request)

    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise faults.missing_param("BatchItemRequest")
        if len(items) > emu.limiters[realm].config.batch_max_items:
            raise faults.QboFault(
                "1040",
                "Batch size exceeds allowed limit",
                f"Batch size {len(items)} exceeds the allowed limit of "
                f"{emu.limiters[realm].config.batch_max_items}",
            )
        try:
            return 200, {"BatchItemResponse": [_batch_item(emu, company, i) for i in items]}
        finally:
            company.hidden.clear()

    return await _guarded(emu, request, realm, work, write=True, batch=True)


def _batch_item(emu: Emulator, company: Company, item: Any) -> dict[str, Any]:
    bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
    try:
        if not isinstance(item, dict):
            raise _parse_error()
        if "Query" in item:
            return {"QueryResponse": query.run(company, str(item["Query"])), "bId": bid}
        entity = next((k for k in item if k in SPECS), None)
        if entity is None:
            raise faults.missing_param("Entity")
        options = {o.strip().lower() for o in str(item.get("optionsData", "")).split(",")}
        obj = perform(
            emu,
            company,
            entity,
            item[entity],
            str(item.get("operation", "create")).lower(),
            void="void" in options,
            allow_dup="allowduplicatedocnum" in options,
            locked=False,
        )
        created = obj.get("Id") is not None and item[entity].get("Id") is None
        if created and not choices.BATCH_ITEMS_SEE_EARLIER_CREATES:
            company.hidden.add((entity, str(obj["Id"])))
        return {entity: obj, "bId": bid}
    except faults.QboFault as fault:
        return {"Fault": {"type": fault.fault_type, "Error": [fault.error()]}, "bId": bid}


async def cdc(emu: Emulator, request: Request, realm: str) -> Response:
    params = request.query_params

    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        return 200, {
            "CDCResponse": [
                changes(company, params.get("entities", ""), params.get("changedSince"), emu.now())
            ]
        }

    return await _guarded(emu, request, realm, work, write=False)


async def taxservice(emu: Emulator, request: Request, realm: str) -> Response:
    body = await _json_body(request)

    def work(company: Company, locked: bool) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            raise _parse_error()
        return 200, create_tax_code(company, body, emu.now())

    return await _guarded(emu, request, realm, work, write=True)


_C = r"/v3/company/(?P<realm>[^/]+)"
ROUTES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("GET", _C + "/query", run_query),
    ("POST", _C + "/query", run_query),
    ("POST", _C + "/batch", batch),
    ("GET", _C + "/cdc", cdc),
    ("GET", _C + "/preferences", preferences),
    ("POST", _C + "/taxservice/taxcode", taxservice),
    ("GET", _C + r"/(?P<segment>[A-Za-z]+)/(?P<entity_id>[^/]+)", read),
    ("POST", _C + r"/(?P<segment>[A-Za-z]+)", write),
)
