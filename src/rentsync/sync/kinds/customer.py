"""Customers -> QBO Customer: a name-list record, created by the first document that needs it
(an order's invoice) and kept up to date from then on (R2).

DisplayName is shared by QBO's customers, vendors and employees (6240): a name a vendor or
employee holds gets the stable suffix of `mapping.names`; the customer's marker in `Notes` tells
the one rentsync created from a same-named customer someone else made (never taken over).
"""

from __future__ import annotations

from typing import Any

from rentsync.domain.documents import Customer, DocumentType
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.listing import Listing
from rentsync.mapping import customer as customer_mapping
from rentsync.mapping.common import has_marker
from rentsync.mapping.names import suffixed_display_name
from rentsync.sync.kinds.base import KindSpec
from rentsync.sync.kinds.name_list import NameListHandler
from rentsync.sync.references import NameListKind, NameListRecord, ReferenceContext


def _record(ctx: ReferenceContext, key: DocumentKey, body: dict[str, Any]) -> NameListRecord:
    customer = Customer.model_validate(body)
    marker = customer_mapping.customer_marker(ctx.company_id, key.source_id)

    def named(display_name: str, alternative: NameListRecord | None) -> NameListRecord:
        return NameListRecord(
            entity="Customer",
            payload=customer_mapping.customer_create(
                customer,
                company_id=ctx.company_id,
                customer_id=key.source_id,
                display_name=display_name,
            ),
            find=WriteIntent(entity="Customer", field="DisplayName", value=display_name),
            same_record=lambda found: has_marker(found.get("Notes"), marker),
            update=lambda qbo_id, token: customer_mapping.customer_update(
                customer, qbo_id=qbo_id, sync_token=token, display_name=display_name
            ),
            clash_remedy=(
                f"QuickBooks already has a customer named {display_name!r} that rentsync did not "
                "create. Rename the customer in the rental system (or the existing record in "
                "QuickBooks), then press Resync."
            ),
            alternative=alternative,
        )

    return named(customer.name, named(suffixed_display_name(customer.name, "customer"), None))


def _ours(ctx: ReferenceContext, key: DocumentKey, found: dict[str, Any]) -> bool:
    return has_marker(
        found.get("Notes"), customer_mapping.customer_marker(ctx.company_id, key.source_id)
    )


NAME_LIST = NameListKind(
    doc_type=DocumentType.CUSTOMER,
    entity="Customer",
    record=_record,
    ours=_ours,
    field="customer_id",
)

KIND = KindSpec(
    doc_type=DocumentType.CUSTOMER,
    plural="customers",
    model=Customer,
    example={
        "name": "Maple Street Events",
        "email": "events@maplestreet.example",
        "phone": "555-0142",
        "billing_address": {
            "line1": "12 Maple St",
            "city": "Austin",
            "region": "TX",
            "postal_code": "78701",
        },
    },
    syncs_on_every_change=False,
    handler=NameListHandler,
    name_list=NAME_LIST,
    listing=Listing(title="Customer", name=("name",)),
)
