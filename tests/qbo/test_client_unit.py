# ruff: noqa: E501  (QBO bodies are quoted whole)
"""QboClient against httpx2.MockTransport: the wire format, retries, limits and the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest

from rentsync.qbo import errors, http
from rentsync.qbo.client import BatchItem, ClientSettings, QboClient, QueryPage, Result, quote
from rentsync.qbo.limits import Limiter
from rentsync.qbo.ports import LogEntry

REALM = "9130350000000001"
Handler = Callable[[httpx2.Request], Awaitable[httpx2.Response] | httpx2.Response]


class FakeTokens:
    def __init__(self) -> None:
        self.token = "access-token-one-0123456789"
        self.refreshes: list[str] = []

    async def current(self) -> str:
        return self.token

    async def refresh(self, rejected: str) -> str:
        self.refreshes.append(rejected)
        self.token = "access-token-two-0123456789"
        return self.token


class MemoryLog:
    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    async def record(self, entry: LogEntry) -> None:
        self.entries.append(entry)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make(
    handler: Handler,
    *,
    tokens: FakeTokens | None = None,
    log: MemoryLog | None = None,
    sleep: Sleeps | None = None,
    limiter: Limiter | None = None,
) -> QboClient:
    transport = httpx2.MockTransport(handler)
    return QboClient(
        http_client=http.make_client(transport=transport, timeout=5),
        api_base_url="https://qbo.test",
        company_id=1,
        realm_id=REALM,
        tokens=tokens or FakeTokens(),
        limiter=limiter or Limiter(sleep=sleep or Sleeps()),
        request_log=log,
        settings=ClientSettings(throttle_wait_seconds=60.0),
    )


def ok(body: dict[str, Any] | str, tid: str = "tid-1", status: int = 200) -> httpx2.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx2.Response(
        status,
        content=content.encode(),
        headers={"intuit_tid": tid, "content-type": "application/json"},
    )


def params(request: httpx2.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}


async def test_create_sends_minorversion_requestid_and_exact_decimals() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return ok(
            '{"Invoice":{"Id":"47","SyncToken":"0","TotalAmt":119.60,"Line":[]},"time":"t"}',
            tid="tid-create",
        )

    client = make(handler)
    result = await client.create(
        "Invoice",
        {"DocNumber": "R-1", "Line": [{"Amount": Decimal("70.10"), "Qty": 3}]},
        requestid="rs-abc",
    )
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == f"/v3/company/{REALM}/invoice"
    assert params(request) == {"minorversion": "75", "requestid": "rs-abc"}
    assert request.headers["authorization"] == "Bearer access-token-one-0123456789"
    assert request.content == b'{"DocNumber":"R-1","Line":[{"Amount":70.10,"Qty":3}]}'
    assert result.id == "47" and result.sync_token == "0"
    assert result.data["TotalAmt"] == Decimal("119.60")
    assert isinstance(result.data["TotalAmt"], Decimal)
    assert result.intuit_tid == "tid-create"
    assert result.requestid == "rs-abc"


async def test_floats_are_refused() -> None:
    client = make(lambda r: ok({}))
    with pytest.raises(TypeError):
        await client.create("Invoice", {"TotalAmt": 1.5}, requestid="rs-x")


@pytest.mark.parametrize(
    ("entity", "expected_params", "sparse"),
    [
        ("Invoice", {"operation": "void"}, False),
        ("Payment", {"operation": "update", "include": "void"}, True),
        ("BillPayment", {"operation": "update", "include": "void"}, True),
    ],
)
async def test_void(entity: str, expected_params: dict[str, str], sparse: bool) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return ok({entity: {"Id": "5", "SyncToken": "2"}})

    result = await make(handler).void(entity, "5", "1", requestid="rs-void")
    query = params(seen[0])
    assert query == {**expected_params, "minorversion": "75", "requestid": "rs-void"}
    body = json.loads(seen[0].content)
    assert body["Id"] == "5" and body["SyncToken"] == "1"
    assert body.get("sparse", False) is sparse
    assert result.sync_token == "2"


async def test_delete_and_sparse_update_and_read() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return ok({"Bill": {"Id": "9", "SyncToken": "3", "status": "Deleted"}})

    client = make(handler)
    await client.delete("Bill", "9", "2", requestid="rs-del")
    await client.sparse_update(
        "Bill", {"Id": "9", "SyncToken": "2", "DueDate": "2025-01-01"}, requestid="rs-up"
    )
    await client.read("Bill", "9")
    assert params(seen[0])["operation"] == "delete"
    assert json.loads(seen[1].content)["sparse"] is True
    assert seen[2].method == "GET" and seen[2].url.path.endswith("/bill/9")
    assert "requestid" not in params(seen[2])
    with pytest.raises(ValueError):
        await client.sparse_update("Bill", {"Id": "9"}, requestid="rs-up")


def test_quote_escapes_quotes_and_backslashes() -> None:
    assert quote("O'Keefe") == "'O\\'Keefe'"
    assert quote("a\\") == "'a\\\\'"


async def test_query_paging_and_empty_shape() -> None:
    statements: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        statement = params(request)["query"]
        statements.append(statement)
        if "STARTPOSITION 1 " in statement:
            rows = [{"Id": str(i)} for i in range(2)]
            return ok({"QueryResponse": {"Customer": rows, "startPosition": 1, "maxResults": 2}})
        if "STARTPOSITION 3 " in statement:
            return ok(
                {"QueryResponse": {"Customer": [{"Id": "9"}], "startPosition": 3, "maxResults": 1}}
            )
        return ok({"QueryResponse": {}, "time": "t"})

    client = make(handler)
    rows = await client.query_all("Customer", f"DisplayName = {quote('Bob')}", page_size=2)
    assert [r["Id"] for r in rows] == ["0", "1", "9"]
    assert (
        statements[0]
        == "SELECT * FROM Customer WHERE DisplayName = 'Bob' STARTPOSITION 1 MAXRESULTS 2"
    )
    empty = await client.query("SELECT * FROM Customer WHERE Id = '404'")
    assert empty.entities == []
    assert await client.find_by_doc_number("Invoice", "O'1") is None
    assert statements[-1] == "SELECT * FROM Invoice WHERE DocNumber = 'O\\'1' MAXRESULTS 2"
    with pytest.raises(ValueError):
        await client.query_all("Customer", page_size=1001)


async def test_a_401_refreshes_once_and_retries() -> None:
    tokens = FakeTokens()
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"].endswith("one-0123456789"):
            return httpx2.Response(401, content=b'{"fault":{"error":[{"code":"3200"}]}}')
        return ok({"Customer": {"Id": "1"}})

    result = await make(handler, tokens=tokens).read("Customer", "1")
    assert result.id == "1"
    assert tokens.refreshes == ["access-token-one-0123456789"]
    assert len(seen) == 2


async def test_a_401_after_refresh_is_auth_revoked() -> None:
    body = b'{"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200","code":"3200"}],"type":"AUTHENTICATION"}}'
    client = make(lambda r: httpx2.Response(401, content=body, headers={"intuit_tid": "t401"}))
    with pytest.raises(errors.AuthRevoked) as caught:
        await client.read("Customer", "1")
    assert caught.value.http_status == 401
    assert str(caught.value).startswith("t401")


THROTTLE_XML = (
    b'<IntuitResponse><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded;'
    b" errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.</Detail>"
    b"</Error></Fault></IntuitResponse>"
)


async def test_i13_a_429_is_honoured_once_waiting_the_servers_hint_or_60s() -> None:
    answers = iter(
        [
            httpx2.Response(429, content=THROTTLE_XML, headers={"Retry-After": "7"}),
            ok({"Customer": {"Id": "1"}}),
            httpx2.Response(403, content=THROTTLE_XML.replace(b"=429", b"=403")),
            ok({"Customer": {"Id": "2"}}),
        ]
    )
    sleeps = Sleeps()
    client = make(lambda r: next(answers), sleep=sleeps)
    assert (await client.read("Customer", "1")).id == "1"
    assert sleeps.waits == [pytest.approx(7.0, abs=0.5)]
    assert (await client.read("Customer", "2")).id == "2"
    assert sleeps.waits[1:] == [pytest.approx(60.0, abs=0.5)]


async def test_i13_a_second_429_is_raised_to_the_caller_without_a_backoff_spiral() -> None:
    sent = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal sent
        sent += 1
        return httpx2.Response(429, content=THROTTLE_XML)

    sleeps = Sleeps()
    client = make(handler, sleep=sleeps)
    with pytest.raises(errors.Throttled) as caught:
        await client.read("Customer", "1")
    assert caught.value.retry_after == 60.0
    assert sent == 2  # the first answer honoured once, then the caller decides
    assert sleeps.waits == [pytest.approx(60.0, abs=0.5)]
    # The realm stays blocked for this process: the next call waits before it sends anything.
    with pytest.raises(errors.Throttled):
        await client.read("Customer", "1")
    assert sleeps.waits[1] == pytest.approx(60.0, abs=0.5)


async def test_transport_errors_are_translated_once() -> None:
    def dropped(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")

    def refused(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("Connection refused")

    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out")

    with pytest.raises(errors.UncertainOutcome) as caught:
        await make(dropped).create("Invoice", {}, requestid="rs-1")
    assert caught.value.outcome_uncertain
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    with pytest.raises(errors.Unreachable) as unreachable:
        await make(refused).create("Invoice", {}, requestid="rs-1")
    assert not unreachable.value.outcome_uncertain
    with pytest.raises(errors.UncertainOutcome):
        await make(slow).create("Invoice", {}, requestid="rs-1")


async def test_server_errors_retry_reads_but_not_writes() -> None:
    calls: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.method)
        if len(calls) == 1:
            return httpx2.Response(503, content=b"Service Unavailable")
        return ok({"Customer": {"Id": "1"}})

    assert (await make(handler).read("Customer", "1")).id == "1"
    assert calls == ["GET", "GET"]

    writes: list[str] = []

    def failing(request: httpx2.Request) -> httpx2.Response:
        writes.append(request.method)
        return httpx2.Response(
            500, content=b'{"Fault":{"Error":[{"code":"10000","Message":"err"}]}}'
        )

    with pytest.raises(errors.ServerError) as caught:
        await make(failing).create("Invoice", {}, requestid="rs-1")
    assert caught.value.outcome_uncertain
    assert writes == ["POST"]


async def test_a_fault_inside_a_200_is_raised() -> None:
    body = {
        "Fault": {
            "Error": [{"Message": "Stale Object Error", "code": "5010"}],
            "type": "ValidationFault",
        }
    }
    with pytest.raises(errors.Locked):
        await make(lambda r: ok(body)).sparse_update(
            "Invoice", {"Id": "1", "SyncToken": "0"}, requestid="r"
        )


async def test_batch_outcomes_by_bid() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return ok(
            {
                "BatchItemResponse": [
                    {
                        "bId": "2",
                        "Fault": {
                            "type": "ValidationFault",
                            "Error": [{"Message": "Duplicate Name Exists Error", "code": "6240"}],
                        },
                    },
                    {"bId": "1", "Invoice": {"Id": "11", "SyncToken": "0"}},
                    {"bId": "3", "QueryResponse": {"Item": [{"Id": "4"}]}},
                ]
            },
            tid="tid-batch",
        )

    items = [
        BatchItem(bid="1", operation="create", entity="Invoice", payload={"DocNumber": "1"}),
        BatchItem(bid="2", operation="create", entity="Customer", payload={"DisplayName": "A"}),
        BatchItem(bid="3", query="select * from Item"),
    ]
    outcomes = await make(handler).batch(items, requestid="rs-batch")
    invoice = outcomes["1"]
    assert isinstance(invoice, Result) and invoice.id == "11"
    assert isinstance(outcomes["2"], errors.DuplicateName)
    assert outcomes["2"].intuit_tid == "tid-batch"
    page = outcomes["3"]
    assert isinstance(page, QueryPage) and page.entities == [{"Id": "4"}]
    assert page.intuit_tid == "tid-batch"
    sent = json.loads(seen[0].content)["BatchItemRequest"]
    assert sent[2] == {"bId": "3", "Query": "select * from Item"}
    assert seen[0].url.path.endswith("/batch")
    with pytest.raises(ValueError):
        await make(handler).batch([items[0]] * 31)


async def test_never_more_than_ten_in_flight() -> None:
    in_flight = peak = 0

    async def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return ok({"Customer": {"Id": "1"}})

    limiter = Limiter()
    client = make(handler, limiter=limiter)
    await asyncio.gather(*(client.read("Customer", "1") for _ in range(60)))
    assert peak == 10
    assert limiter.peak_in_flight[REALM] == 10


async def test_the_log_keeps_tid_requestid_and_no_token() -> None:
    log = MemoryLog()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return ok({"Invoice": {"Id": "1", "note": "access-token-one-0123456789"}}, tid="tid-log")

    await make(handler, log=log).create("Invoice", {"DocNumber": "A"}, requestid="rs-log")
    [entry] = log.entries
    assert entry.intuit_tid == "tid-log"
    assert entry.requestid == "rs-log"
    assert entry.status == 200 and entry.method == "POST"
    assert entry.path.startswith(f"/v3/company/{REALM}/invoice?minorversion=75")
    assert '"DocNumber": "A"' in entry.request_body
    assert "access-token-one" not in entry.response_body
    assert entry.duration_ms >= 0
