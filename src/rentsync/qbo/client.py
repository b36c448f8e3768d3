"""QboClient: the QBO Accounting API v3 calls sync needs, for one company (realm).

Every call: `minorversion=75`, a timeout, the per-realm limits, the bearer token (refreshed once
on a 401), the QuickBooks log, and errors classified by `rentsync.qbo.errors`. Every write
carries the caller's deterministic `requestid` (see `rentsync.qbo.requestid`); after an
`UncertainOutcome` (or a `ServerError` with `outcome_uncertain`) look the object up with
`find_by_doc_number` / `find_with_marker` before writing again with the same requestid.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rentsync.domain import qbo as qbo_rules
from rentsync.domain.clock import utcnow
from rentsync.qbo import codec, errors, http, redact
from rentsync.qbo.limits import Limiter
from rentsync.qbo.ports import LogEntry, RequestLog

log = logging.getLogger(__name__)

MINOR_VERSION = 75
MAX_RESULTS = 1000
MAX_BATCH_ITEMS = qbo_rules.BATCH_ITEMS
# Invoice is voided with operation=void; these with operation=update&include=void (reference §4).
VOID_BY_UPDATE = frozenset({"Payment", "BillPayment", "SalesReceipt", "RefundReceipt"})


class AccessTokens(Protocol):
    """A company's access token: the current one, and a refresh when QBO rejected it."""

    async def current(self) -> str: ...

    async def refresh(self, rejected: str) -> str: ...


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    minor_version: int = MINOR_VERSION
    timeout_seconds: float = 30.0
    """The deadline of one request, the whole exchange; never above QBO's own 120 s
    (`deadline_seconds`), so a request holds its limiter slot no longer than a slot's lease."""
    throttle_wait_seconds: float = errors.DEFAULT_THROTTLE_WAIT_SECONDS
    """How long to wait after a 429 when QBO gives no Retry-After."""
    max_throttle_wait_seconds: float | None = None
    """Cap on any throttle wait, server hint included (tests make it small)."""
    throttle_retries: int = 1
    """429s the client absorbs per call (waiting as QBO says, with every other process, see
    `limits.Limiter.block`) before raising `Throttled` to the caller."""
    read_retries: int = 1
    """Retries of a read (GET, query) after a dropped connection or a 5xx."""

    @property
    def deadline_seconds(self) -> float:
        """How long one request may take: QuickBooks ends any request after 120 s, so waiting
        longer gains nothing."""
        return min(self.timeout_seconds, qbo_rules.REQUEST_SECONDS)


@dataclass(frozen=True, kw_only=True)
class Result:
    """One entity as QBO returned it (money as Decimal), with the request's intuit_tid."""

    entity: str
    data: dict[str, Any]
    intuit_tid: str | None
    requestid: str | None = None

    @property
    def id(self) -> str:
        return str(self.data["Id"])

    @property
    def sync_token(self) -> str:
        return str(self.data.get("SyncToken", ""))


@dataclass(frozen=True, kw_only=True)
class QueryPage:
    entities: list[dict[str, Any]]
    start_position: int
    max_results: int
    total_count: int | None
    intuit_tid: str | None


@dataclass(frozen=True, kw_only=True)
class BatchItem:
    """One entry of a batch: an operation on an entity, or a query (`query` set, no entity)."""

    bid: str
    operation: str = ""
    entity: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    options: str | None = None
    """`optionsData`, e.g. "void"."""
    query: str | None = None

    def to_wire(self) -> dict[str, Any]:
        if self.query is not None:
            return {"bId": self.bid, "Query": self.query}
        item: dict[str, Any] = {"bId": self.bid, "operation": self.operation}
        if self.options:
            item["optionsData"] = self.options
        item[self.entity] = dict(self.payload)
        return item


BatchOutcome = Result | QueryPage | errors.QboError
"""A batch item's outcome: the object of an operation, the page of a query, or its Fault."""


def quote(value: str) -> str:
    """A query string literal: backslashes and single quotes backslash-escaped (reference §5)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def query_page(response: Mapping[str, Any] | None, intuit_tid: str | None) -> QueryPage:
    """A QueryResponse (of a query, or of a batch's Query item) as a page; no match is `{}`."""
    response = response or {}
    entities: list[dict[str, Any]] = []
    for value in response.values():
        if isinstance(value, list):
            entities.extend(value)
    total = response.get("totalCount")
    return QueryPage(
        entities=entities,
        start_position=int(response.get("startPosition", 1)),
        max_results=int(response.get("maxResults", len(entities))),
        total_count=int(total) if total is not None else None,
        intuit_tid=intuit_tid,
    )


class Queries:
    """The lookups, built on one page query (`query`): `QboClient` sends each page as a request
    of its own; the bulk sync's batching gateway (`rentsync.sync.batching`) sends them as Query
    items of batch requests. Either way a caller gets the same pages."""

    async def query(self, statement: str) -> QueryPage:
        """One page; no match gives `entities == []` (QBO answers `{"QueryResponse": {}}`)."""
        raise NotImplementedError

    async def query_all(
        self, entity: str, where: str = "", *, page_size: int = MAX_RESULTS, order_by: str = ""
    ) -> list[dict[str, Any]]:
        """Every match, page by page (QBO's default page of 100 would silently truncate)."""
        if not 1 <= page_size <= MAX_RESULTS:
            raise ValueError(f"page_size must be 1..{MAX_RESULTS}")
        found: list[dict[str, Any]] = []
        start = 1
        while True:
            statement = f"SELECT * FROM {entity}"  # noqa: S608 - QBO query, not SQL
            if where:
                statement += f" WHERE {where}"
            if order_by:
                statement += f" ORDERBY {order_by}"
            statement += f" STARTPOSITION {start} MAXRESULTS {page_size}"
            page = await self.query(statement)
            found.extend(page.entities)
            if len(page.entities) < page_size:
                return found
            start += page_size

    async def find_by(self, entity: str, field_name: str, value: str) -> list[dict[str, Any]]:
        return await self.query_all(entity, f"{field_name} = {quote(value)}")

    async def find_by_doc_number(self, entity: str, doc_number: str) -> dict[str, Any] | None:
        """The natural-key lookup after an uncertain outcome: the object, or None."""
        page = await self.query(
            f"SELECT * FROM {entity} WHERE DocNumber = {quote(doc_number)} MAXRESULTS 2"  # noqa: S608
        )
        return page.entities[0] if page.entities else None

    async def find_with_marker(
        self, entity: str, marker: str, *, where: str = ""
    ) -> dict[str, Any] | None:
        """The object whose PrivateNote carries `marker` (PrivateNote cannot be filtered on, so
        narrow with `where`, e.g. a TxnDate or CustomerRef condition)."""
        for candidate in await self.query_all(entity, where):
            if marker in str(candidate.get("PrivateNote") or ""):
                return candidate
        return None


class QboClient(Queries):
    def __init__(
        self,
        *,
        http_client: http.AsyncClient,
        api_base_url: str,
        company_id: int,
        realm_id: str,
        tokens: AccessTokens,
        limiter: Limiter,
        request_log: RequestLog | None = None,
        settings: ClientSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._http = http_client
        self._base = api_base_url.rstrip("/")
        self.company_id = company_id
        self.realm_id = realm_id
        self._tokens = tokens
        self._limiter = limiter
        self._log = request_log
        self.settings = settings or ClientSettings()
        self._clock = clock
        self.background = False
        """Every call takes a background slot (bulk work: spare budget only, see limits.py)."""

    def in_background(self) -> QboClient:
        """The same client whose calls use only the budget real-time work leaves spare."""
        other = copy.copy(self)
        other.background = True
        return other

    # --- entities ---------------------------------------------------------------------------

    async def create(
        self,
        entity: str,
        payload: Mapping[str, Any],
        *,
        requestid: str,
        params: Mapping[str, str] | None = None,
    ) -> Result:
        """Create; `requestid` makes a retry of the same write return the original object."""
        doc = await self._call(
            "POST", self._path(entity), params=params, payload=payload, requestid=requestid
        )
        return self._result(entity, doc, requestid)

    async def read(self, entity: str, entity_id: str) -> Result:
        doc = await self._call("GET", f"{self._path(entity)}/{entity_id}")
        return self._result(entity, doc, None)

    async def sparse_update(
        self, entity: str, payload: Mapping[str, Any], *, requestid: str
    ) -> Result:
        """Only the fields given change; `payload` needs Id and the current SyncToken."""
        if "Id" not in payload or "SyncToken" not in payload:
            raise ValueError("a sparse update needs Id and SyncToken")
        body = {**payload, "sparse": True}
        doc = await self._call("POST", self._path(entity), payload=body, requestid=requestid)
        return self._result(entity, doc, requestid)

    async def void(self, entity: str, entity_id: str, sync_token: str, *, requestid: str) -> Result:
        body: dict[str, Any] = {"Id": entity_id, "SyncToken": sync_token}
        if entity in VOID_BY_UPDATE:
            params = {"operation": "update", "include": "void"}
            body["sparse"] = True
        else:
            params = {"operation": "void"}
        doc = await self._call(
            "POST", self._path(entity), params=params, payload=body, requestid=requestid
        )
        return self._result(entity, doc, requestid)

    async def delete(
        self, entity: str, entity_id: str, sync_token: str, *, requestid: str
    ) -> Result:
        doc = await self._call(
            "POST",
            self._path(entity),
            params={"operation": "delete"},
            payload={"Id": entity_id, "SyncToken": sync_token},
            requestid=requestid,
        )
        return self._result(entity, doc, requestid)

    async def company_info(self) -> dict[str, Any]:
        doc = await self._call("GET", f"{self._path('CompanyInfo')}/{self.realm_id}")
        info: dict[str, Any] = doc["CompanyInfo"]
        return info

    async def preferences(self) -> dict[str, Any]:
        doc = await self._call("GET", self._path("Preferences"))
        prefs: dict[str, Any] = doc["Preferences"]
        return prefs

    # --- queries (the lookups built on it: `Queries`) ---------------------------------------

    async def query(self, statement: str) -> QueryPage:
        """One page; no match gives `entities == []` (QBO answers `{"QueryResponse": {}}`)."""
        answer_doc = await self._call("GET", self._path("query"), params={"query": statement})
        return query_page(answer_doc.get("QueryResponse"), answer_doc.get("__intuit_tid"))

    # --- batch ------------------------------------------------------------------------------

    async def batch(
        self, items: Sequence[BatchItem], *, requestid: str | None = None
    ) -> dict[str, BatchOutcome]:
        """Up to 30 items; outcome per bId (matched by bId, not order). Counts as one request
        toward the 500/min and one toward the 40 batches/min. A batch of Query items only is a
        read (retried after a dropped connection or a 5xx, as a query is); give it no
        `requestid`, or QBO would answer a resent one with the first, stale, answer."""
        if len(items) > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items, got {len(items)}")
        if requestid is not None and len(requestid) > 36:
            raise ValueError("a batch requestid is at most 36 characters")
        body = {"BatchItemRequest": [item.to_wire() for item in items]}
        writes = any(item.query is None for item in items)
        doc = await self._call(
            "POST",
            self._path("batch"),
            payload=body,
            requestid=requestid,
            batch=True,
            write=writes,
        )
        tid = doc.get("__intuit_tid")
        by_bid = {item.bid: item for item in items}
        outcomes: dict[str, BatchOutcome] = {}
        for entry in doc.get("BatchItemResponse") or []:
            bid = str(entry.get("bId", ""))
            fault = errors.faults_in(entry)
            if fault is not None:
                found, fault_type = fault
                outcomes[bid] = errors.build(
                    found, http_status=200, intuit_tid=tid, fault_type=fault_type
                )
            elif "QueryResponse" in entry:
                outcomes[bid] = query_page(entry["QueryResponse"], tid)
            else:
                item = by_bid.get(bid)
                name = item.entity if item else next(k for k in entry if k != "bId")
                outcomes[bid] = Result(entity=name, data=entry[name], intuit_tid=tid)
        return outcomes

    # --- plumbing ---------------------------------------------------------------------------

    def _path(self, entity: str) -> str:
        return f"/v3/company/{self.realm_id}/{entity.lower()}"

    @staticmethod
    def _result(entity: str, doc: dict[str, Any], requestid: str | None) -> Result:
        if entity not in doc:
            raise errors.PayloadRejected(
                f"QuickBooks answered without a {entity}",
                intuit_tid=doc.get("__intuit_tid"),
                detail=", ".join(k for k in doc if not k.startswith("__")),
            )
        return Result(
            entity=entity, data=doc[entity], intuit_tid=doc.get("__intuit_tid"), requestid=requestid
        )

    def _throttle_wait(self, hint: float | None) -> float:
        wait = hint if hint is not None else self.settings.throttle_wait_seconds
        cap = self.settings.max_throttle_wait_seconds
        return min(wait, cap) if cap is not None else wait

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        payload: Any = None,
        requestid: str | None = None,
        batch: bool = False,
        write: bool | None = None,
    ) -> dict[str, Any]:
        """Send with limits, token refresh on 401, throttle waits; the JSON answer or raise.

        The answer's intuit_tid is returned under the key "__intuit_tid"."""
        is_write = method != "GET" if write is None else write
        query = {"minorversion": str(self.settings.minor_version), **(params or {})}
        if requestid is not None:
            query["requestid"] = requestid
        content = codec.dumps(payload) if payload is not None else None
        refreshed = throttled = read_retries = 0
        while True:
            token = await self._tokens.current()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            failure: errors.QboError | None = None
            async with self._limiter.slot(
                self.realm_id, batch=batch, background=self.background
            ) as hold:
                at = self._clock()
                try:
                    answer = await http.send(
                        self._http,
                        method,
                        self._base + path,
                        params=query,
                        content=content,
                        headers=headers,
                        timeout_seconds=self.settings.deadline_seconds,
                    )
                except errors.QboError as exc:
                    failure = exc
                    if isinstance(exc, errors.NoAnswerInTime):
                        hold.keep()  # QuickBooks may still be running it: still in flight there
            # Logged after the slot is given back: the slot is held for the exchange only.
            if failure is not None:
                await self._record(
                    at, method, path, query, content, None, requestid, token, failure
                )
                if not is_write and read_retries < self.settings.read_retries:
                    read_retries += 1
                    continue
                raise failure
            await self._record(at, method, path, query, content, answer, requestid, token, None)
            if answer.status == 401 and not refreshed:
                refreshed = 1
                await self._tokens.refresh(token)
                continue
            error, doc = self._interpret(answer, is_write)
            if error is None:
                doc["__intuit_tid"] = answer.intuit_tid
                return doc
            if isinstance(error, errors.Throttled):
                # Every process holds back from the realm for as long as QBO said; this call
                # then tries once more (the next slot waits the block out), no backoff of its own.
                log.warning(
                    "QuickBooks throttled a request; every process waits",
                    extra={
                        "action": "qbo.throttled",
                        "company_id": self.company_id,
                        "intuit_tid": answer.intuit_tid,
                        "wait_seconds": error.retry_after,
                    },
                )
                await self._limiter.block(self.realm_id, error.retry_after)
                if throttled < self.settings.throttle_retries:
                    throttled += 1
                    continue
            if (
                isinstance(error, errors.ServerError)
                and not is_write
                and read_retries < self.settings.read_retries
            ):
                read_retries += 1
                continue
            raise error

    def _interpret(
        self, answer: http.Answer, write: bool
    ) -> tuple[errors.QboError | None, dict[str, Any]]:
        hint = errors.parse_retry_after(answer.headers.get("retry-after"))
        retry_after = self._throttle_wait(hint)
        if answer.status < 400:
            try:
                doc = errors.loads(answer.body)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                fault = errors.faults_in(doc)
                if fault is None:
                    return None, doc
                found, fault_type = fault
                return errors.build(
                    found,
                    http_status=answer.status,
                    intuit_tid=answer.intuit_tid,
                    fault_type=fault_type,
                    retry_after=retry_after,
                    write=write,
                ), {}
        error = errors.from_response(
            answer.status,
            answer.body,
            intuit_tid=answer.intuit_tid,
            retry_after=retry_after,
            write=write,
        )
        if error is None:  # a 2xx/3xx that is neither JSON nor a Fault
            error = errors.ServerError(
                f"unexpected answer (HTTP {answer.status})",
                http_status=answer.status,
                intuit_tid=answer.intuit_tid,
                outcome_uncertain=write,
            )
        return error, {}

    async def _record(
        self,
        at: datetime,
        method: str,
        path: str,
        query: Mapping[str, str],
        content: bytes | None,
        answer: http.Answer | None,
        requestid: str | None,
        token: str,
        failure: errors.QboError | None,
    ) -> None:
        if self._log is None:
            return
        secrets = (token,)
        query_text = "&".join(f"{k}={v}" for k, v in query.items() if k != "query")
        if "query" in query:
            query_text += f"&query={query['query']}"
        duration = answer.duration_ms if answer else (self._clock() - at).total_seconds() * 1000
        entry = LogEntry(
            company_id=self.company_id,
            realm_id=self.realm_id,
            at=at,
            method=method,
            path=redact.values(f"{path}?{query_text}", secrets),
            status=answer.status if answer else None,
            duration_ms=duration,
            intuit_tid=answer.intuit_tid if answer else None,
            requestid=requestid,
            request_body=redact.body(content or b"", "application/json", secrets),
            response_body=redact.body(answer.body, "", secrets) if answer else "",
            error=redact.values(str(failure), secrets) if failure else None,
        )
        try:
            await self._log.record(entry)
        except Exception:
            # The log must never break a sync; the failure itself is logged (without bodies).
            log.exception(
                "could not write the QuickBooks log",
                extra={"action": "qbo.log.failed", "company_id": self.company_id},
            )
