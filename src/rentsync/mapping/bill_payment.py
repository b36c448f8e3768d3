"""Vendor payment -> QBO BillPayment (reference §4 BillPayment). Choices and sources in
docs/qbo-mapping.md ("Vendor payments"); each is made here, once:

- `PayType` follows the paid-from account's type: a Bank account pays by `Check`
  (`CheckPayment.BankAccountRef`), a Credit Card account by `CreditCard`
  (`CreditCardPayment.CCAccountRef`); QBO's BillPayment has no other kinds, so ACH and cash are
  `Check` payments from the bank account, the method named in the private note;
- one line per bill paid, `LinkedTxn` = the bill's QBO Id;
- `DocNumber` = the reference number (check number); `PrivateNote` = rentsync's marker, which
  with `VendorRef` finds it again (QBO keeps no unique number on a BillPayment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.vendors import VendorPayment, VendorPaymentMethod
from rentsync.mapping.common import Payload, iso, ref, source_marker, sparse_update

BANK = "Bank"
CREDIT_CARD = "Credit Card"
PAY_TYPES = {BANK: "Check", CREDIT_CARD: "CreditCard"}
"""The QBO AccountType of the paid-from account -> the BillPayment's PayType."""

METHOD_LABELS = {
    VendorPaymentMethod.CHECK: "check",
    VendorPaymentMethod.CREDIT_CARD: "credit card",
    VendorPaymentMethod.ACH: "ACH",
    VendorPaymentMethod.CASH: "cash",
}


@dataclass(frozen=True, kw_only=True)
class BillPaymentRefs:
    vendor_id: str
    account_id: str
    account_type: str
    """BANK or CREDIT_CARD (checked before mapping)."""
    bill_ids: Mapping[str, str] = field(default_factory=dict)
    """The rental system's bill id -> the QBO Bill Id."""


def bill_payment_marker(key: DocumentKey) -> str:
    return source_marker(key.company_id, DocumentType.VENDOR_PAYMENT.value, key.source_id)


def bill_payment_create(
    payment: VendorPayment, refs: BillPaymentRefs, *, key: DocumentKey
) -> Payload:
    """The body of `POST /billpayment`."""
    pay_type = PAY_TYPES[refs.account_type]
    payload: Payload = {
        "VendorRef": ref(refs.vendor_id),
        "PayType": pay_type,
        "TxnDate": iso(payment.date),
        "TotalAmt": payment.amount,
        "Line": [
            {
                "Amount": application.amount,
                "LinkedTxn": [{"TxnId": refs.bill_ids[application.bill_id], "TxnType": "Bill"}],
            }
            for application in payment.bills
        ],
    }
    if pay_type == "Check":
        payload["CheckPayment"] = {"BankAccountRef": ref(refs.account_id), "PrintStatus": "NotSet"}
    else:
        payload["CreditCardPayment"] = {"CCAccountRef": ref(refs.account_id)}
    if payment.reference_number is not None:
        payload["DocNumber"] = payment.reference_number
    payload["PrivateNote"] = f"{bill_payment_marker(key)} paid by {METHOD_LABELS[payment.method]}"
    return payload


def bill_payment_update(
    payment: VendorPayment,
    refs: BillPaymentRefs,
    *,
    key: DocumentKey,
    qbo_id: str,
    sync_token: str,
) -> Payload:
    return sparse_update(
        bill_payment_create(payment, refs, key=key), qbo_id=qbo_id, sync_token=sync_token
    )
