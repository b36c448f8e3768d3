"""Purchase order -> QBO PurchaseOrder (reference §4 PurchaseOrder). Choices and sources in
docs/qbo-mapping.md ("Purchase orders and subrentals"); each is made here, once:

- `POStatus` Open while approved or partly received, Closed once received (a draft is never
  sent, a cancelled one is deleted: decided by the kind);
- a line with a product is an `ItemBasedExpenseLineDetail` on its item (`Qty`, `UnitPrice`),
  one with a description only an `AccountBasedExpenseLineDetail` on the mapped expense account;
- a subrental is told apart by its memo: `Memo` (printed on the PO the vendor gets) and
  `PrivateNote` start with "Subrental", with the pick-up and return dates and the rental
  order it serves;
- `DocNumber` = the PO's number (unique among purchase orders in QBO, 6140);
  `PrivateNote` ends with rentsync's marker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.vendors import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)
from rentsync.mapping.common import Payload, iso, ref, source_marker, sparse_update
from rentsync.mapping.names import EMPTY_ADDRESS, contact_fields

SUBRENTAL = "Subrental"
OPEN, CLOSED = "Open", "Closed"


@dataclass(frozen=True, kw_only=True)
class PurchaseOrderRefs:
    vendor_id: str
    expense_account_id: str | None
    """For lines without a product (checked present when there is one)."""
    item_ids: Mapping[str, str] = field(default_factory=dict)


def purchase_order_marker(key: DocumentKey) -> str:
    return source_marker(key.company_id, DocumentType.PURCHASE_ORDER.value, key.source_id)


def qbo_status(order: PurchaseOrder) -> str:
    return CLOSED if order.status is PurchaseOrderStatus.RECEIVED else OPEN


def subrental_memo(order: PurchaseOrder) -> str | None:
    """ "Subrental: pick-up 2026-11-25, return 2026-11-30, order R-1001" (None: a purchase)."""
    if order.kind is not PurchaseOrderKind.SUBRENTAL:
        return None
    assert order.pick_up is not None and order.return_date is not None
    text = f"{SUBRENTAL}: pick-up {iso(order.pick_up)}, return {iso(order.return_date)}"
    if order.order_id:
        text += f", order {order.order_id}"
    return text


def purchase_order_create(
    order: PurchaseOrder, refs: PurchaseOrderRefs, *, key: DocumentKey
) -> Payload:
    """The body of `POST /purchaseorder`."""
    subrental = subrental_memo(order)
    memo = "\n".join(part for part in (subrental, order.memo) if part)
    payload: Payload = {
        "VendorRef": ref(refs.vendor_id),
        "DocNumber": order.number,
        "TxnDate": iso(order.date),
        "POStatus": qbo_status(order),
        "Line": [_line(line, refs) for line in order.lines],
        "Memo": memo,
        "ShipAddr": (
            contact_fields(company_name=None, email=None, phone=None, address=order.ship_to)[
                "BillAddr"
            ]
            if order.ship_to is not None
            else dict(EMPTY_ADDRESS)
        ),
    }
    marker = purchase_order_marker(key)
    payload["PrivateNote"] = f"{subrental} {marker}" if subrental else marker
    return payload


def purchase_order_update(
    order: PurchaseOrder, refs: PurchaseOrderRefs, *, key: DocumentKey, qbo_id: str, sync_token: str
) -> Payload:
    return sparse_update(
        purchase_order_create(order, refs, key=key), qbo_id=qbo_id, sync_token=sync_token
    )


def close(*, qbo_id: str, sync_token: str) -> Payload:
    """Close a purchase order (a cancelled one a bill links: QBO keeps it, closed)."""
    return sparse_update({"POStatus": CLOSED}, qbo_id=qbo_id, sync_token=sync_token)


def _line(line: PurchaseOrderLine, refs: PurchaseOrderRefs) -> Payload:
    body: Payload = {"Amount": line.amount}
    if line.description:
        body["Description"] = line.description
    if line.product_id is not None:
        body["DetailType"] = "ItemBasedExpenseLineDetail"
        body["ItemBasedExpenseLineDetail"] = {
            "ItemRef": ref(refs.item_ids[line.product_id]),
            "Qty": line.quantity,
            "UnitPrice": line.rate,
        }
    else:
        assert refs.expense_account_id is not None, "checked before mapping"
        body["DetailType"] = "AccountBasedExpenseLineDetail"
        body["AccountBasedExpenseLineDetail"] = {"AccountRef": ref(refs.expense_account_id)}
    return body
