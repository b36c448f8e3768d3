"""Product -> QBO Item (R9, R10) and Customer -> QBO Customer payloads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rentsync.domain.documents import ProductKind
from rentsync.domain.settings import AccountMapping
from rentsync.mapping.customer import customer_create, customer_marker, customer_update
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.item import (
    NAME_MAX_LENGTH,
    item_create,
    item_name,
    item_type,
    item_update,
    require_inventory_allowed,
)
from tests.unit.factories import ACCOUNTS, make_customer, make_product
from tests.unit.snapshots import assert_matches_snapshot


def test_r09_sale_product_becomes_inventory_item() -> None:
    payload = item_create(make_product(ProductKind.SALE), ACCOUNTS, inventory_allowed=True)
    assert_matches_snapshot(payload, "item_inventory_napkin")
    assert payload["Type"] == "Inventory"
    assert payload["TrackQtyOnHand"] is True
    assert payload["QtyOnHand"] == Decimal("1500")
    assert payload["InvStartDate"] == "2025-06-01"
    assert payload["PurchaseCost"] == Decimal("0.90")
    assert payload["UnitPrice"] == Decimal("2.50")


@pytest.mark.parametrize("kind", [ProductKind.RENTAL, ProductKind.SERVICE, ProductKind.FEE])
def test_r09_rental_service_and_fee_products_become_service_items(kind: ProductKind) -> None:
    payload = item_create(make_product(kind), ACCOUNTS, inventory_allowed=False)
    assert payload["Type"] == "Service" == item_type(make_product(kind))
    assert "TrackQtyOnHand" not in payload
    assert "AssetAccountRef" not in payload


def test_r09_rental_item_payload() -> None:
    product = make_product(
        description="20 x 30 ft frame tent, white", sku="TENT-2030", taxable=True
    )
    assert_matches_snapshot(
        item_create(product, ACCOUNTS, inventory_allowed=True), "item_service_tent"
    )


def test_r10_items_post_to_the_mapped_accounts() -> None:
    sale = item_create(make_product(ProductKind.SALE), ACCOUNTS, inventory_allowed=True)
    assert sale["IncomeAccountRef"] == {"value": "79"}
    assert sale["ExpenseAccountRef"] == {"value": "80"}
    assert sale["AssetAccountRef"] == {"value": "81"}
    rental = item_create(make_product(), ACCOUNTS, inventory_allowed=True)
    assert rental["IncomeAccountRef"] == {"value": "79"}


@pytest.mark.parametrize(
    ("kind", "missing", "label"),
    [
        (ProductKind.RENTAL, "income", "Income"),
        (ProductKind.SALE, "income", "Income"),
        (ProductKind.SALE, "expense", "Expense"),
        (ProductKind.SALE, "asset", "Asset"),
    ],
)
def test_r10_unmapped_account_fails_with_a_remedy(
    kind: ProductKind, missing: str, label: str
) -> None:
    accounts = ACCOUNTS.model_copy(update={missing: None})
    with pytest.raises(MappingError) as caught:
        item_create(make_product(kind), accounts, inventory_allowed=True)
    error = caught.value
    assert error.problem is MappingProblem.ACCOUNT_NOT_MAPPED
    assert error.code == "rentsync_account_not_mapped"
    assert error.field == f"accounts.{missing}"
    assert error.remedy.startswith(f"Map the {label}")
    assert "Settings" in error.remedy


def test_r10_a_rental_item_needs_only_the_income_account() -> None:
    payload = item_create(make_product(), AccountMapping(income="79"), inventory_allowed=False)
    assert payload["IncomeAccountRef"] == {"value": "79"}


def test_r09_sale_product_on_a_plan_without_inventory_fails_before_writing() -> None:
    with pytest.raises(MappingError) as caught:
        item_create(make_product(ProductKind.SALE), ACCOUNTS, inventory_allowed=False)
    assert caught.value.problem is MappingProblem.INVENTORY_NEEDS_PLUS
    assert "QuickBooks Online Plus or higher is needed for sale products (inventory)" in (
        caught.value.remedy
    )


def test_r09_the_plan_check_alone_passes_non_sale_products() -> None:
    require_inventory_allowed(make_product(ProductKind.RENTAL), inventory_allowed=False)
    require_inventory_allowed(make_product(ProductKind.SALE), inventory_allowed=True)
    with pytest.raises(MappingError):
        require_inventory_allowed(make_product(ProductKind.SALE), inventory_allowed=False)


def test_r09_item_names_have_no_colons_and_at_most_100_characters() -> None:
    assert item_name(make_product(name="Tent: 20x30")) == "Tent - 20x30"
    assert len(item_name(make_product(name="T" * 100))) == NAME_MAX_LENGTH


def test_r09_item_update_is_sparse_and_leaves_quantity_and_start_date_alone() -> None:
    payload = item_update(make_product(ProductKind.SALE), ACCOUNTS, qbo_id="23", sync_token="1")
    assert payload["Id"] == "23"
    assert payload["SyncToken"] == "1"
    assert payload["sparse"] is True
    assert not {"Type", "QtyOnHand", "InvStartDate", "TrackQtyOnHand"} & payload.keys()
    assert payload["AssetAccountRef"] == {"value": "81"}


def test_customer_create_payload() -> None:
    payload = customer_create(make_customer(), company_id=7, customer_id="cust-42")
    assert_matches_snapshot(payload, "customer_create")
    assert payload["DisplayName"] == "Maple Street Weddings"
    assert payload["Notes"] == customer_marker(7, "cust-42") == "[rentsync:c7:customer:cust-42]"


def test_customer_create_leaves_out_what_is_missing() -> None:
    payload = customer_create(
        make_customer(company_name=None, email=None, phone=None, billing_address={"city": "Bend"}),
        company_id=7,
        customer_id="c",
    )
    assert payload == {
        "DisplayName": "Maple Street Weddings",
        "BillAddr": {"City": "Bend"},
        "Notes": "[rentsync:c7:customer:c]",
    }


def test_customer_update_sends_only_changed_fields() -> None:
    before = make_customer()
    after = make_customer(email="hello@maplestreet.example", phone=None)
    payload = customer_update(after, qbo_id="59", sync_token="4", previous=before)
    assert payload == {
        "Id": "59",
        "SyncToken": "4",
        "sparse": True,
        "PrimaryEmailAddr": {"Address": "hello@maplestreet.example"},
        "PrimaryPhone": {"FreeFormNumber": ""},
    }


def test_customer_update_without_previous_sends_every_field() -> None:
    payload = customer_update(make_customer(), qbo_id="59", sync_token="4")
    assert set(payload) == {
        "Id",
        "SyncToken",
        "sparse",
        "DisplayName",
        "CompanyName",
        "PrimaryEmailAddr",
        "PrimaryPhone",
        "BillAddr",
    }


def test_update_needs_id_and_sync_token() -> None:
    with pytest.raises(ValueError, match="SyncToken"):
        customer_update(make_customer(), qbo_id="59", sync_token="")
