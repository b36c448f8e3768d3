"""Vendors -> QBO Vendor: a name-list record, created by the first bill, payment or purchase
order that needs it and kept up to date from then on.

DisplayName shares one namespace with customers and employees (6240): a name a customer or
employee holds gets the stable suffix of `mapping.names`, as customers do; the marker in `Notes`
tells the vendor rentsync created from a same-named vendor someone else made (never taken over).
"""

from __future__ import annotations

from typing import Any

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.listing import Listing
from rentsync.domain.vendors import Vendor
from rentsync.mapping import vendor as vendor_mapping
from rentsync.mapping.common import has_marker
from rentsync.mapping.names import suffixed_display_name
from rentsync.sync.kinds.base import KindSpec
from rentsync.sync.kinds.name_list import NameListHandler
from rentsync.sync.references import NameListKind, NameListRecord, ReferenceContext

VENDOR = "Vendor"


def vendor_key(company_id: int, vendor_id: str) -> DocumentKey:
    return DocumentKey(company_id, DocumentType.VENDOR, vendor_id)


def _record(ctx: ReferenceContext, key: DocumentKey, body: dict[str, Any]) -> NameListRecord:
    vendor = Vendor.model_validate(body)
    marker = vendor_mapping.vendor_marker(ctx.company_id, key.source_id)

    def named(display_name: str, alternative: NameListRecord | None) -> NameListRecord:
        return NameListRecord(
            entity=VENDOR,
            payload=vendor_mapping.vendor_create(
                vendor,
                company_id=ctx.company_id,
                vendor_id=key.source_id,
                display_name=display_name,
            ),
            find=WriteIntent(entity=VENDOR, field="DisplayName", value=display_name),
            same_record=lambda found: has_marker(found.get("Notes"), marker),
            update=lambda qbo_id, token: vendor_mapping.vendor_update(
                vendor, qbo_id=qbo_id, sync_token=token, display_name=display_name
            ),
            clash_remedy=(
                f"QuickBooks already has a vendor named {display_name!r} that rentsync did not "
                "create. Rename the vendor in the rental system (or the existing record in "
                "QuickBooks), then press Resync."
            ),
            alternative=alternative,
        )

    return named(vendor.name, named(suffixed_display_name(vendor.name, "vendor"), None))


def _ours(ctx: ReferenceContext, key: DocumentKey, found: dict[str, Any]) -> bool:
    return has_marker(
        found.get("Notes"), vendor_mapping.vendor_marker(ctx.company_id, key.source_id)
    )


NAME_LIST = NameListKind(
    doc_type=DocumentType.VENDOR,
    entity=VENDOR,
    record=_record,
    ours=_ours,
    field="vendor_id",
)

KIND = KindSpec(
    doc_type=DocumentType.VENDOR,
    plural="vendors",
    model=Vendor,
    example={
        "name": "Ace Party Supply",
        "company_name": "Ace Party Supply LLC",
        "email": "billing@aceparty.example",
        "phone": "555-0190",
        "address": {
            "line1": "8 Depot Rd",
            "city": "Austin",
            "region": "TX",
            "postal_code": "78702",
        },
        "tax_id": "12-3456789",
        "is_1099": True,
    },
    syncs_on_every_change=False,
    handler=NameListHandler,
    name_list=NAME_LIST,
    listing=Listing(title="Vendor", name=("name",)),
)
