"""Vendor bill -> QBO Bill (reference §4 Bill). Choices and sources in docs/qbo-mapping.md
("Vendor bills"); each is made here, once:

- `VendorRef` = the vendor; `APAccountRef` = the mapped payable account (never QBO's default);
- a line with a product is an `ItemBasedExpenseLineDetail` on the product's item; any other an
  `AccountBasedExpenseLineDetail` on its category's mapped account (or the mapped expense
  account when it names none), so the cost lands where the bookkeeper said;
- `LinkedTxn` names the purchase order it bills (QBO closes the PO once billed in full);
- `DocNumber` = the vendor's bill number; `PrivateNote` = rentsync's marker (which with
  `DocNumber` finds it again: QBO keeps bill numbers unique only in its UI) and the rental order
  that created the bill, when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.vendors import BillLine, VendorBill
from rentsync.mapping.common import Payload, iso, ref, source_marker, sparse_update


@dataclass(frozen=True, kw_only=True)
class BillRefs:
    """What the engine resolved in QBO before mapping the bill."""

    vendor_id: str
    payable_account_id: str
    line_accounts: Sequence[str | None]
    """Per line: the expense account of a line without a product (None for product lines)."""
    item_ids: Mapping[str, str] = field(default_factory=dict)
    purchase_order_id: str | None = None


def bill_marker(key: DocumentKey) -> str:
    return source_marker(key.company_id, DocumentType.VENDOR_BILL.value, key.source_id)


def bill_create(bill: VendorBill, refs: BillRefs, *, key: DocumentKey) -> Payload:
    """The body of `POST /bill`."""
    payload: Payload = {
        "VendorRef": ref(refs.vendor_id),
        "APAccountRef": ref(refs.payable_account_id),
        "DocNumber": bill.number,
        "TxnDate": iso(bill.date),
        "Line": [
            _line(line, account, refs.item_ids)
            for line, account in zip(bill.lines, refs.line_accounts, strict=True)
        ],
    }
    if bill.due_date is not None:
        payload["DueDate"] = iso(bill.due_date)
    payload["LinkedTxn"] = (
        [{"TxnId": refs.purchase_order_id, "TxnType": "PurchaseOrder"}]
        if refs.purchase_order_id is not None
        else []
    )
    note = bill_marker(key)
    if bill.order_id is not None:
        note += f" for rental order {bill.order_id}"
    payload["PrivateNote"] = note
    return payload


def bill_update(
    bill: VendorBill, refs: BillRefs, *, key: DocumentKey, qbo_id: str, sync_token: str
) -> Payload:
    """A sparse update with every field rentsync owns and all lines (QBO drops lines left out)."""
    return sparse_update(bill_create(bill, refs, key=key), qbo_id=qbo_id, sync_token=sync_token)


def _line(line: BillLine, account_id: str | None, item_ids: Mapping[str, str]) -> Payload:
    body: Payload = {"Amount": line.amount}
    if line.description:
        body["Description"] = line.description
    if line.product_id is not None:
        quantity = line.quantity or Decimal(1)
        detail: Payload = {"ItemRef": ref(item_ids[line.product_id]), "Qty": quantity}
        price = (line.amount / quantity).quantize(Decimal("0.0000001"))
        if (quantity * price).quantize(Decimal("0.01")) == line.amount:
            detail["UnitPrice"] = price
        body["DetailType"] = "ItemBasedExpenseLineDetail"
        body["ItemBasedExpenseLineDetail"] = detail
    else:
        assert account_id is not None, "an account line has its account resolved"
        body["DetailType"] = "AccountBasedExpenseLineDetail"
        body["AccountBasedExpenseLineDetail"] = {"AccountRef": ref(account_id)}
    return body
