"""P2's baseline: what a user would write in an afternoon with python-quickbooks.

One order at a time: find its customer by DisplayName (create it if missing), find each line's
item by Name (create it if missing), then create the invoice. Sequential, no batch, no cache:
the naive way, against the same emulator (QBO's limits, the same latency) as rentsync.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item


@dataclass
class NaiveRun:
    orders: int
    invoices: int
    documents: int
    """Customers, items and invoices the script created."""
    errors: int
    seconds: float
    first_error: str = ""


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
    started = time.perf_counter()
    for order in orders:
        try:
            customer_name = customers[order["customer_id"]]["name"]
            found = Customer.filter(DisplayName=customer_name, qb=qb)
            if found:
                customer = found[0]
            else:
                customer = Customer()
                customer.DisplayName = customer_name
                customer.save(qb=qb)
                documents += 1
            invoice = Invoice()
            invoice.CustomerRef = customer.to_ref()
            invoice.DocNumber = order["invoice_number"]
            invoice.TxnDate = order["invoice_date"]
            for line in order["lines"]:
                product = products[line["product_id"]]
                items = Item.filter(Name=product["name"], qb=qb)
                if items:
                    item = items[0]
                else:
                    item = Item()
                    item.Name = product["name"]
                    item.Type = "Service"
                    item.IncomeAccountRef = Ref()
                    item.IncomeAccountRef.value = income_account
                    item.save(qb=qb)
                    documents += 1
                sales = SalesItemLine()
                sales.Amount = Decimal(line["amount"])
                sales.SalesItemLineDetail = SalesItemLineDetail()
                sales.SalesItemLineDetail.ItemRef = item.to_ref()
                sales.SalesItemLineDetail.Qty = Decimal(line["quantity"])
                sales.SalesItemLineDetail.UnitPrice = Decimal(line["rate"])
                invoice.Line.append(sales)
            invoice.save(qb=qb)
            invoices += 1
            documents += 1
        except Exception as error:  # a user's script logs and goes on
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"
    seconds = time.perf_counter() - started
    return NaiveRun(len(orders), invoices, documents, errors, seconds, first_error)
