"""Product -> QBO Item (reference §4 Item; R9, R10).

Rental, service and fee products become `Service` items posting to the mapped Income account.
Sale products become `Inventory` items: quantity on hand from the tracking start date, income,
COGS (expense) and inventory asset accounts. Inventory needs QuickBooks Online Plus or higher;
`require_inventory_allowed` lets the engine fail before writing anything on a smaller plan.
"""

from __future__ import annotations

import re

from rentsync.domain.documents import Product, ProductKind
from rentsync.domain.settings import AccountMapping, AccountRole
from rentsync.mapping.common import Payload, iso, ref, sparse_update
from rentsync.mapping.errors import MappingError, MappingProblem

NAME_MAX_LENGTH = 100
"""QBO's limit for Item.Name (unique across items, case-insensitively)."""

SERVICE = "Service"
INVENTORY = "Inventory"

_ROLE_LABELS = {
    AccountRole.INCOME: "Income",
    AccountRole.EXPENSE: "Expense (cost of goods sold)",
    AccountRole.ASSET: "Asset (inventory)",
}
_NOT_IN_NAMES = re.compile(r"\s*[:\t\r\n]+\s*")
"""QBO uses ':' to join parent and sub-item names; tabs and newlines are refused."""


def item_type(product: Product) -> str:
    """The QBO Item Type a product becomes: compare with the ledger's to notice a kind change."""
    return INVENTORY if product.kind is ProductKind.SALE else SERVICE


def item_name(product: Product) -> str:
    """The product's name as a QBO Item Name: no ':' tab or newline, at most 100 characters."""
    return _NOT_IN_NAMES.sub(" - ", product.name).strip()[:NAME_MAX_LENGTH]


def require_inventory_allowed(product: Product, *, inventory_allowed: bool) -> None:
    """Raise before any write when a sale product needs inventory the QBO plan lacks (R9).

    `inventory_allowed`: the company's plan has inventory and quantity tracking is on
    (Preferences.ProductAndServicesPrefs.QuantityOnHand).
    """
    if product.kind is ProductKind.SALE and not inventory_allowed:
        raise MappingError(
            MappingProblem.INVENTORY_NEEDS_PLUS,
            f"Sale product {product.name!r} must be an inventory item in QuickBooks, and this "
            "QuickBooks company cannot track inventory",
            field="kind",
            remedy=(
                "QuickBooks Online Plus or higher is needed for sale products (inventory). "
                "Upgrade the QuickBooks plan and turn on 'Track quantity and price/rate' "
                "(Account and settings > Sales), then press Resync."
            ),
        )


def item_create(product: Product, accounts: AccountMapping, *, inventory_allowed: bool) -> Payload:
    """The body of `POST /item` for a new item; raises `MappingError` before any write when
    an account is not mapped or the plan has no inventory. Pure, so the engine can map every
    missing item of an order first and write nothing if one of them cannot be created."""
    require_inventory_allowed(product, inventory_allowed=inventory_allowed)
    payload: Payload = {
        "Name": item_name(product),
        "Type": item_type(product),
        **_sales_fields(product),
        "IncomeAccountRef": ref(_account(accounts, AccountRole.INCOME)),
    }
    if product.kind is ProductKind.SALE:
        # The domain guarantees both for sale products; checked again for the type checker.
        assert product.quantity_on_hand is not None and product.tracking_start is not None
        payload.update(
            {
                "TrackQtyOnHand": True,
                "QtyOnHand": product.quantity_on_hand,
                "InvStartDate": iso(product.tracking_start),
                "ExpenseAccountRef": ref(_account(accounts, AccountRole.EXPENSE)),
                "AssetAccountRef": ref(_account(accounts, AccountRole.ASSET)),
            }
        )
        if product.cost is not None:
            payload["PurchaseCost"] = product.cost
    return payload


def item_update(
    product: Product, accounts: AccountMapping, *, qbo_id: str, sync_token: str
) -> Payload:
    """A sparse update of name, price, tax flag, SKU, description and accounts.

    Not Type, QtyOnHand nor InvStartDate: quantities change through inventory adjustments in
    QBO after the item exists, and a kind change (see `item_type`) needs a decision by a person.
    """
    payload: Payload = {
        "Name": item_name(product),
        **_sales_fields(product),
        "IncomeAccountRef": ref(_account(accounts, AccountRole.INCOME)),
    }
    if product.kind is ProductKind.SALE:
        payload["ExpenseAccountRef"] = ref(_account(accounts, AccountRole.EXPENSE))
        payload["AssetAccountRef"] = ref(_account(accounts, AccountRole.ASSET))
        if product.cost is not None:
            payload["PurchaseCost"] = product.cost
    return sparse_update(payload, qbo_id=qbo_id, sync_token=sync_token)


def _sales_fields(product: Product) -> Payload:
    fields: Payload = {"Taxable": product.taxable}
    if product.rate is not None:
        fields["UnitPrice"] = product.rate
    if product.sku:
        fields["Sku"] = product.sku
    if product.description:
        fields["Description"] = product.description
    return fields


def _account(accounts: AccountMapping, role: AccountRole) -> str:
    account_id = accounts.for_role(role)
    if not account_id:
        label = _ROLE_LABELS[role]
        raise MappingError(
            MappingProblem.ACCOUNT_NOT_MAPPED,
            f"No QuickBooks {label} account is mapped",
            field=f"accounts.{role.value}",
            remedy=(
                f"Map the {label} account in Settings > QuickBooks (account mapping), "
                "then press Resync."
            ),
        )
    return account_id
