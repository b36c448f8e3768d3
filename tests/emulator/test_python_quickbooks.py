"""A third-party client (python-quickbooks, intuit-oauth), unchanged, against the emulator."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import uvicorn
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.exceptions import ValidationException
from quickbooks.objects.base import Address, LinkedTxn, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine

from qbo_emulator.app import create_app
from qbo_emulator.presets import Preset
from qbo_emulator.testing import fast_config

REDIRECT = "https://app.example.com/callback"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(preset: Preset) -> Iterator[tuple[str, str]]:
    """uvicorn serving a fresh emulator on 127.0.0.1 in a background thread: (base URL, realm)."""
    app = create_app(fast_config())
    realm = app.emulator.add_company(preset).realm_id
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", realm
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served() -> Iterator[tuple[str, str]]:
    with _serve(Preset()) as where:
        yield where


@pytest.fixture
def served_multicurrency() -> Iterator[tuple[str, str]]:
    with _serve(Preset(multicurrency=True)) as where:
        yield where


def connect(base: str, realm: str, monkeypatch: pytest.MonkeyPatch) -> QuickBooks:
    """A python-quickbooks client through intuit-oauth's real authorisation-code flow."""
    # requests-oauthlib (under python-quickbooks) refuses plain http; the emulator serves http on
    # loopback, so allow it for this test only.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    app = requests.post(f"{base}/admin/apps", json={"redirect_uris": [REDIRECT]}, timeout=5).json()
    # intuit-oauth fetches Intuit's discovery document in its constructor; Intuit cannot be reached
    # here, so `environment` is the emulator's discovery URL (AuthClient accepts a URL there).
    auth = AuthClient(
        app["client_id"],
        app["client_secret"],
        REDIRECT,
        environment=f"{base}/.well-known/openid_configuration",
    )
    consent = requests.get(
        auth.get_authorization_url([Scopes.ACCOUNTING]), allow_redirects=False, timeout=5
    )
    callback = parse_qs(urlparse(consent.headers["location"]).query)
    assert callback["realmId"] == [realm]
    auth.get_bearer_token(callback["code"][0], realm_id=realm)
    client = QuickBooks(
        auth_client=auth, refresh_token=auth.refresh_token, company_id=realm, minorversion=75
    )
    client.api_url_v3 = f"{base}/v3"  # the library's production URL, pointed at the emulator
    return client


def test_python_quickbooks_creates_and_queries_customers_items_invoices_payments(
    served: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(*served, monkeypatch)

    customer = Customer()
    customer.DisplayName = "O'Keefe Party Rentals"
    saved = customer.save(qb=client)
    assert customer.Id and saved.SyncToken == "0"
    found = Customer.filter(DisplayName="O'Keefe Party Rentals", qb=client)
    assert [c.Id for c in found] == [customer.Id]

    item = Item()
    item.Name = "Tent 10x20"
    item.Type = "Service"
    item.IncomeAccountRef = Ref()
    item.IncomeAccountRef.value = app_account(client, "Services")
    item.save(qb=client)
    assert [i.Name for i in Item.all(qb=client)] == ["Tent 10x20"]

    line = SalesItemLine()
    line.Amount = Decimal("70.00")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item.to_ref()
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [line]
    saved_invoice = invoice.save(qb=client)
    assert saved_invoice.TotalAmt == 70 and saved_invoice.Balance == 70

    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = 30
    payment_line = PaymentLine()
    payment_line.Amount = 30
    linked = LinkedTxn()
    linked.TxnId = invoice.Id
    linked.TxnType = "Invoice"
    payment_line.LinkedTxn = [linked]
    payment.Line = [payment_line]
    payment.save(qb=client)
    assert payment.Id
    assert Invoice.get(invoice.Id, qb=client).Balance == 40
    assert [p.Id for p in Payment.all(qb=client)] == [payment.Id]


def app_account(client: QuickBooks, name: str) -> str:
    from quickbooks.objects.account import Account

    accounts = Account.filter(Name=name, qb=client)
    account_id: str = accounts[0].Id
    return account_id


MONEY_FIELDS = ("TotalAmt", "Balance", "HomeTotalAmt", "HomeBalance", "ExchangeRate", "UnitPrice")


def _check_entity(name: str, obj: dict[str, Any]) -> None:
    """The shape of an entity in QBO's answers: string Ids and SyncTokens, MetaData, domain,
    numbers as JSON numbers, references as {value, name}, addresses and lines with string Ids."""
    assert isinstance(obj["Id"], str) and obj["Id"].isdigit(), (name, obj.get("Id"))
    assert isinstance(obj["SyncToken"], str) and obj["SyncToken"].isdigit()
    assert obj["domain"] == "QBO" and obj["sparse"] is False
    assert set(obj["MetaData"]) >= {"CreateTime", "LastUpdatedTime"}
    for field in MONEY_FIELDS:
        if field in obj:
            assert isinstance(obj[field], int | float), (name, field, obj[field])
    for field in ("BillAddr", "ShipAddr"):
        if field in obj:
            assert isinstance(obj[field]["Id"], str) and obj[field]["Id"].isdigit()
    if "CurrencyRef" in obj:
        assert set(obj["CurrencyRef"]) == {"value", "name"}
    for line in obj.get("Line", []):
        assert isinstance(line["Amount"], int | float)
        if line["DetailType"] != "SubTotalLineDetail":
            assert isinstance(line["Id"], str) and line["Id"].isdigit()


def _check_answer(body: dict[str, Any]) -> None:
    assert isinstance(body.pop("time"), str)
    if "Fault" in body:
        fault = body["Fault"]
        assert fault["type"] == "ValidationFault"
        for error in fault["Error"]:
            assert isinstance(error["code"], str) and error["Message"] and error["Detail"]
    elif "QueryResponse" in body:
        for name, rows in body["QueryResponse"].items():
            if isinstance(rows, list):
                for row in rows:
                    _check_entity(name, row)
    else:
        ((name, obj),) = body.items()
        _check_entity(name, obj)


def test_b8_python_quickbooks_addresses_line_updates_currency_names_and_a_bad_query(
    served_multicurrency: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(*served_multicurrency, monkeypatch)
    answers: list[dict[str, Any]] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/v3/company/" in response.url:
            answers.append(response.json())

    client.session.hooks["response"].append(record)

    customer = Customer()
    customer.DisplayName = "Harbour Marquees"
    customer.BillAddr = Address()
    customer.BillAddr.Line1 = "1 Quay Street"
    customer.BillAddr.City = "Portland"
    customer.ShipAddr = Address()
    customer.ShipAddr.Line1 = "9 Dock Road"
    customer.ShipAddr.City = "Portland"
    customer = customer.save(qb=client)
    assert customer.BillAddr.Id and customer.ShipAddr.Id

    item = Item()
    item.Name = "Marquee 6x12"
    item.Type = "Service"
    item.IncomeAccountRef = Ref()
    item.IncomeAccountRef.value = app_account(client, "Services")
    item = item.save(qb=client)

    def item_line(amount: str) -> SalesItemLine:
        line = SalesItemLine()
        line.Amount = Decimal(amount)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = item.to_ref()
        return line

    # an invoice sent without addresses takes the customer's
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [item_line("100.00"), item_line("50.00")]
    invoice = invoice.save(qb=client)
    assert invoice.ShipAddr.Id == customer.ShipAddr.Id
    assert invoice.BillAddr.Id != customer.BillAddr.Id and invoice.BillAddr.Line1 == "1 Quay Street"
    assert invoice.LinkedTxn == [] and invoice.CurrencyRef.value == "USD"
    assert invoice.ExchangeRate == 1 and invoice.HomeBalance == 150
    kept_id = invoice.Line[0].Id

    # a line update keeps the sent line's Id and gives the new line a new one
    stored = Invoice.get(invoice.Id, qb=client)
    stored.Line = [line for line in stored.Line if line.DetailType == "SalesItemLineDetail"][:1]
    stored.Line[0].Amount = Decimal("120.00")
    stored.Line.append(item_line("30.00"))
    stored = stored.save(qb=client)
    item_lines = [line for line in stored.Line if line.DetailType == "SalesItemLineDetail"]
    assert [line.Id for line in item_lines] == [kept_id, "3"]
    assert stored.TotalAmt == 150 and stored.SyncToken == "1"

    # a multicurrency customer's invoice is in its currency, with home amounts
    euro = Customer()
    euro.DisplayName = "Rotterdam Events"
    euro.CurrencyRef = Ref()
    euro.CurrencyRef.value = "EUR"
    euro = euro.save(qb=client)
    assert euro.CurrencyRef.value == "EUR"
    foreign = Invoice()
    foreign.CustomerRef = euro.to_ref()
    foreign.ExchangeRate = Decimal("1.25")
    foreign.Line = [item_line("80.00")]
    foreign = foreign.save(qb=client)
    assert (foreign.CurrencyRef.value, foreign.TotalAmt, foreign.HomeTotalAmt) == ("EUR", 80, 100)
    assert foreign.HomeBalance == 100
    assert Customer.get(euro.Id, qb=client).Balance == 80

    # a deactivated item frees its name
    item.Active = False
    item = item.save(qb=client)
    assert item.Name == "Marquee 6x12 (deleted)"
    again = Item()
    again.Name = "Marquee 6x12"
    again.Type = "Service"
    again.IncomeAccountRef = Ref()
    again.IncomeAccountRef.value = app_account(client, "Services")
    again = again.save(qb=client)
    assert again.Id != item.Id

    # a bad query is refused with 4001, never answered empty
    with pytest.raises(ValidationException) as refused:
        Invoice.where("CustomerNmae = 'Harbour Marquees'", qb=client)
    assert refused.value.error_code == 4001
    assert "Property CustomerNmae not found for Entity Invoice" in refused.value.detail

    assert len(answers) >= 12
    for body in answers:
        _check_answer(body)
    assert any("Fault" in body for body in answers)
