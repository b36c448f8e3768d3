"""P2's baseline: what a user would write in an afternoon with python-quickbooks.

One order at a time: find its customer by DisplayName (create it if missing), find each line's
item by Name (create it if missing), then create the invoice. Sequential, no batch, no cache:
the naive way, against the same emulator (QBO's limits, the same latency) as rentsync.

The script is sequential, so its time is the sum of its requests' times: `project` gives its
time for a whole workload from the requests that workload costs it (counted from the script's own
rules) and the time per request of each kind measured on a run of its first orders. A run of the
first orders alone overstates its rate for the whole workload: they are mostly first sightings,
creates that count as documents, while later orders cost three look-ups and a create for one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

T = TypeVar("T")


@dataclass
class NaiveRun:
    orders: int
    invoices: int
    documents: int
    """Customers, items and invoices the script created."""
    errors: int
    seconds: float
    first_error: str = ""
    calls: dict[str, int] = field(default_factory=dict)
    """Requests sent, by kind: look-ups ("query"), customer and item creates ("create"),
    invoice creates ("invoice")."""
    call_seconds: dict[str, float] = field(default_factory=dict)

    def seconds_per_call(self, kind: str) -> float:
        return self.call_seconds.get(kind, 0.0) / max(self.calls.get(kind, 0), 1)

    @property
    def seconds_between_calls_per_order(self) -> float:
        """The script's own time per order outside its requests (building objects, logging)."""
        outside = self.seconds - sum(self.call_seconds.values())
        return max(outside, 0.0) / max(self.orders, 1)


@dataclass(frozen=True)
class Workload:
    """What a list of orders costs the naive script, counted by its own rules."""

    orders: int
    queries: int
    creates: int
    """Customers and items created (each one document)."""
    invoices: int

    @property
    def requests(self) -> int:
        return self.queries + self.creates + self.invoices

    @property
    def documents(self) -> int:
        return self.creates + self.invoices


@dataclass(frozen=True)
class Projection:
    workload: Workload
    seconds: float

    @property
    def documents_per_minute(self) -> float:
        return self.workload.documents / self.seconds * 60

    @property
    def invoices_per_minute(self) -> float:
        return self.workload.invoices / self.seconds * 60


def workload(
    orders: list[dict[str, Any]],
    customers: dict[str, dict[str, Any]],
    products: dict[str, dict[str, Any]],
) -> Workload:
    """The requests `run` sends for `orders` into an empty company, without sending them."""
    seen_customers: set[str] = set()
    seen_items: set[str] = set()
    queries = creates = 0
    for order in orders:
        queries += 1
        name = customers[order["customer_id"]]["name"]
        if name not in seen_customers:
            seen_customers.add(name)
            creates += 1
        for line in order["lines"]:
            queries += 1
            item = products[line["product_id"]]["name"]
            if item not in seen_items:
                seen_items.add(item)
                creates += 1
    return Workload(len(orders), queries, creates, len(orders))


def project(measured: NaiveRun, work: Workload) -> Projection:
    """The script's time for `work`: each request at the mean time measured for its kind."""
    seconds = (
        work.queries * measured.seconds_per_call("query")
        + work.creates * measured.seconds_per_call("create")
        + work.invoices * measured.seconds_per_call("invoice")
        + work.orders * measured.seconds_between_calls_per_order
    )
    return Projection(work, seconds)


def _client(emulator_url: str, realm: str) -> QuickBooks:
    # requests-oauthlib refuses plain http; the emulator serves http on loopback only.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    app = requests.post(
        f"{emulator_url}/admin/apps", json={"redirect_uris": ["http://naive/cb"]}, timeout=10
    ).json()
    tokens = requests.post(
        f"{emulator_url}/admin/companies/{realm}/tokens",
        json={"client_id": app["client_id"]},
        timeout=10,
    ).json()
    auth = AuthClient(
        app["client_id"],
        app["client_secret"],
        "http://naive/cb",
        environment=f"{emulator_url}/.well-known/openid_configuration",
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )
    client = QuickBooks(
        auth_client=auth, refresh_token=tokens["refresh_token"], company_id=realm, minorversion=75
    )
    client.api_url_v3 = f"{emulator_url}/v3"
    return client


def run(
    emulator_url: str,
    realm: str,
    income_account: str,
    orders: list[dict[str, Any]],
    customers: dict[str, dict[str, Any]],
    products: dict[str, dict[str, Any]],
) -> NaiveRun:
    """Sync `orders` (rentsync's API bodies) the naive way; customers/products by source id."""
    qb = _client(emulator_url, realm)
    documents = invoices = errors = 0
    first_error = ""
    calls: dict[str, int] = {}
    call_seconds: dict[str, float] = {}

    def timed(kind: str, call: Callable[..., T], **kwargs: Any) -> T:
        began = time.perf_counter()
        try:
            return call(**kwargs)
        finally:
            calls[kind] = calls.get(kind, 0) + 1
            call_seconds[kind] = call_seconds.get(kind, 0.0) + time.perf_counter() - began

    started = time.perf_counter()
    for order in orders:
        try:
            customer_name = customers[order["customer_id"]]["name"]
            found = timed("query", Customer.filter, DisplayName=customer_name, qb=qb)
            if found:
                customer = found[0]
            else:
                customer = Customer()
                customer.DisplayName = customer_name
                timed("create", customer.save, qb=qb)
                documents += 1
            invoice = Invoice()
            invoice.CustomerRef = customer.to_ref()
            invoice.DocNumber = order["invoice_number"]
            invoice.TxnDate = order["invoice_date"]
            for line in order["lines"]:
                product = products[line["product_id"]]
                items = timed("query", Item.filter, Name=product["name"], qb=qb)
                if items:
                    item = items[0]
                else:
                    item = Item()
                    item.Name = product["name"]
                    item.Type = "Service"
                    item.IncomeAccountRef = Ref()
                    item.IncomeAccountRef.value = income_account
                    timed("create", item.save, qb=qb)
                    documents += 1
                sales = SalesItemLine()
                sales.Amount = Decimal(line["amount"])
                sales.SalesItemLineDetail = SalesItemLineDetail()
                sales.SalesItemLineDetail.ItemRef = item.to_ref()
                sales.SalesItemLineDetail.Qty = Decimal(line["quantity"])
                sales.SalesItemLineDetail.UnitPrice = Decimal(line["rate"])
                invoice.Line.append(sales)
            timed("invoice", invoice.save, qb=qb)
            invoices += 1
            documents += 1
        except Exception as error:  # a user's script logs and goes on
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"
    seconds = time.perf_counter() - started
    return NaiveRun(
        len(orders), invoices, documents, errors, seconds, first_error, calls, call_seconds
    )
