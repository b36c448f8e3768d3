"""Products -> QBO Item (Service for rentals and fees, Inventory for sale products, R9): a
name-list record, created by the first order that needs it and kept up to date from then on.

Items are shared catalogue entries: one the bookkeeper made with the same name is reused when
it has the type this product needs.
"""

from __future__ import annotations

from typing import Any

from rentsync.domain.documents import DocumentType, Product
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.listing import Listing
from rentsync.mapping import item as item_mapping
from rentsync.sync.kinds.base import KindSpec
from rentsync.sync.kinds.name_list import NameListHandler
from rentsync.sync.references import NameListKind, NameListRecord, ReferenceContext


def _record(ctx: ReferenceContext, key: DocumentKey, body: dict[str, Any]) -> NameListRecord:
    product = Product.model_validate(body)
    wanted_type = item_mapping.item_type(product)
    return NameListRecord(
        entity="Item",
        payload=item_mapping.item_create(
            product, ctx.accounts, inventory_allowed=ctx.inventory_allowed
        ),
        find=WriteIntent(entity="Item", field="Name", value=item_mapping.item_name(product)),
        same_record=lambda found: found.get("Type") == wanted_type,
        update=lambda qbo_id, token: item_mapping.item_update(
            product, ctx.accounts, qbo_id=qbo_id, sync_token=token
        ),
        clash_remedy=(
            f"QuickBooks already has an item named {product.name!r} of another type "
            f"(this product needs a {wanted_type} item). Rename the product in the rental "
            "system or the item in QuickBooks, then press Resync."
        ),
    )


def _ours(ctx: ReferenceContext, key: DocumentKey, found: dict[str, Any]) -> bool:
    return True  # an item carries no marker: the one with the name the create was sent with


NAME_LIST = NameListKind(
    doc_type=DocumentType.PRODUCT,
    entity="Item",
    record=_record,
    ours=_ours,
    field="lines.product_id",
)

KIND = KindSpec(
    doc_type=DocumentType.PRODUCT,
    plural="products",
    model=Product,
    example={"name": "Tent 20x30", "kind": "rental", "rate": "450.00", "taxable": True},
    syncs_on_every_change=False,
    handler=NameListHandler,
    name_list=NAME_LIST,
    listing=Listing(title="Product", name=("name",), amount=("rate",)),
)
