"""A third-party client (python-quickbooks, intuit-oauth), unchanged, against the emulator."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import uvicorn
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.objects.base import LinkedTxn, Ref
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


@pytest.fixture
def served() -> Iterator[tuple[str, str]]:
    """uvicorn serving a fresh emulator on 127.0.0.1 in a background thread: (base URL, realm)."""
    app = create_app(fast_config())
    realm = app.emulator.add_company(Preset()).realm_id
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


def test_python_quickbooks_creates_and_queries_customers_items_invoices_payments(
    served: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, realm = served
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
