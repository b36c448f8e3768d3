"""The registry of document kinds: one line per kind. The reconciler, the ingest routes and the
status API read it; a kind's module declares everything that differs (see `base.KindSpec`)."""

from __future__ import annotations

from rentsync.domain.documents import DocumentType
from rentsync.sync.kinds import (
    customer,
    invoice,
    item,
    payment,
    payment_void,
    purchase_order,
    refund,
    vendor,
    vendor_bill,
    vendor_payment,
)
from rentsync.sync.kinds.base import KindSpec

KINDS: tuple[KindSpec, ...] = (
    customer.KIND,
    item.KIND,
    invoice.KIND,
    payment.KIND,
    refund.KIND,
    payment_void.KIND,
    vendor.KIND,
    vendor_bill.KIND,
    vendor_payment.KIND,
    purchase_order.KIND,
)


def kind_for(doc_type: DocumentType) -> KindSpec:
    for spec in KINDS:
        if spec.doc_type is doc_type:
            return spec
    raise KeyError(f"no document kind {doc_type.value!r} in the registry")
