"""Payment -> QBO Payment; refund -> QBO RefundReceipt (reference §4 Payment, Refunds; "Top 10" #4).
The choices and their sources are in docs/qbo-mapping.md ("Payments"); each is made here, once:

- A collected payment is a `Payment` whose one line links the order's invoice by its QBO Id
  (`LinkedTxn` TxnType Invoice), deposited to the mapped deposit account (QBO's default,
  Undeposited Funds, when none is mapped), with `PaymentMethodRef` and `PaymentRefNum`.
- Credit applied is a `Payment` of TotalAmt 0 whose lines link the invoice (the amount) and the
  customer's open credit memos (the same amount in all): the invoice's and the memos' balances
  fall, no account receives money.
- A refund is a `RefundReceipt` paid out of the deposit account, one line on the item of the
  order's first line (income reversed there), `DocNumber` `RF-<payment id>/<refund id>`
  (`refund_number`), so it never takes a number from the invoices' sequence and no two refunds
  of a company share one (6140).
- `PrivateNote` carries rentsync's marker (`[rentsync:c<company>:payment:<id>]`, the refund's
  names its payment and itself), the natural key that finds them again after a lost answer:
  DocNumber is not filterable on Payment, so they are found by CustomerRef and the marker.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.payments import Payment, PaymentKind, PaymentMethod, Refund
from rentsync.mapping.common import Payload, iso, ref, source_marker, sparse_update
from rentsync.mapping.errors import MappingError, MappingProblem

METHOD_NAMES: dict[PaymentMethod, tuple[str, str]] = {
    PaymentMethod.CARD: ("Credit Card", "CREDIT_CARD"),
    PaymentMethod.CASH: ("Cash", "NON_CREDIT_CARD"),
    PaymentMethod.CHECK: ("Check", "NON_CREDIT_CARD"),
    PaymentMethod.ACH: ("ACH", "NON_CREDIT_CARD"),
    PaymentMethod.OTHER: ("Other", "NON_CREDIT_CARD"),
}
"""The QBO PaymentMethod (Name, Type) each method is recorded as; found by Name, else created."""

REFUND_NUMBER_PREFIX = "RF-"
DOC_NUMBER_MAX_LENGTH = 21
ZERO = Decimal("0.00")


@dataclass(frozen=True, kw_only=True)
class PaymentRefs:
    """What the engine resolved in QBO before mapping the payment."""

    customer_id: str
    invoice_id: str
    deposit_account_id: str | None = None
    method_id: str | None = None
    credits: Sequence[tuple[str, Decimal]] = field(default_factory=tuple)
    """Credit applied: (CreditMemo Id, amount) taken from each of the customer's open memos."""


@dataclass(frozen=True, kw_only=True)
class RefundRefs:
    customer_id: str
    item_id: str
    deposit_account_id: str
    method_id: str | None = None
    invoice_number: str = ""


def payment_marker(key: DocumentKey) -> str:
    return source_marker(key.company_id, DocumentType.PAYMENT.value, key.source_id)


def refund_marker(key: DocumentKey) -> str:
    return source_marker(key.company_id, DocumentType.REFUND.value, key.source_id)


def payment_create(payment: Payment, refs: PaymentRefs, *, key: DocumentKey) -> Payload:
    """The body of `POST /payment`."""
    invoice_line: Payload = {
        "Amount": payment.amount,
        "LinkedTxn": [{"TxnId": refs.invoice_id, "TxnType": "Invoice"}],
    }
    payload: Payload = {
        "CustomerRef": ref(refs.customer_id),
        "TxnDate": iso(payment.date),
    }
    if payment.kind is PaymentKind.CREDIT_APPLIED:
        payload["TotalAmt"] = ZERO
        payload["Line"] = [invoice_line] + [
            {"Amount": amount, "LinkedTxn": [{"TxnId": memo_id, "TxnType": "CreditMemo"}]}
            for memo_id, amount in refs.credits
        ]
    else:
        payload["TotalAmt"] = payment.amount
        payload["Line"] = [invoice_line]
        if refs.deposit_account_id is not None:
            payload["DepositToAccountRef"] = ref(refs.deposit_account_id)
    if refs.method_id is not None:
        payload["PaymentMethodRef"] = ref(refs.method_id)
    if payment.reference_number is not None:
        payload["PaymentRefNum"] = payment.reference_number
    payload["PrivateNote"] = payment_marker(key)
    return payload


def payment_update(
    payment: Payment, refs: PaymentRefs, *, key: DocumentKey, qbo_id: str, sync_token: str
) -> Payload:
    """A sparse update with every field we own and all lines (QBO drops lines left out)."""
    return sparse_update(
        payment_create(payment, refs, key=key), qbo_id=qbo_id, sync_token=sync_token
    )


def allocate_credit(
    amount: Decimal, open_credits: Sequence[tuple[str, Decimal]], *, customer: str
) -> list[tuple[str, Decimal]]:
    """Take `amount` from the customer's open credit memos (Id, remaining credit), in order;
    fails with a remedy when QuickBooks holds less credit than the rental system applied."""
    taken: list[tuple[str, Decimal]] = []
    left = amount
    for memo_id, available in open_credits:
        if left <= ZERO:
            break
        share = min(left, available)
        if share > ZERO:
            taken.append((memo_id, share))
            left -= share
    if left > ZERO:
        held = sum((available for _, available in open_credits), ZERO)
        raise MappingError(
            MappingProblem.NO_CUSTOMER_CREDIT,
            f"The customer {customer!r} has {held} of open credit in QuickBooks; the payment "
            f"applies {amount}",
            field="kind",
            remedy=(
                "Record the customer's credit in QuickBooks (a credit memo for the customer), or "
                "send the payment as collected if money was received, then press Resync."
            ),
        )
    return taken


def refund_receipt_create(
    refund: Refund, refs: RefundRefs, *, key: DocumentKey, payment_id: str
) -> Payload:
    """The body of `POST /refundreceipt` for refund `key` (`<payment id>/<refund id>`)."""
    text = f"Refund {refund.id} of payment {payment_id}"
    if refs.invoice_number:
        text += f" (invoice {refs.invoice_number})"
    if refund.reason:
        text += f": {refund.reason}"
    payload: Payload = {
        "CustomerRef": ref(refs.customer_id),
        "TxnDate": iso(refund.date),
        "DocNumber": refund_number(key),
        "DepositToAccountRef": ref(refs.deposit_account_id),
        "Line": [
            {
                "Description": text[:4000],
                "DetailType": "SalesItemLineDetail",
                "Amount": refund.amount,
                "SalesItemLineDetail": {
                    "ItemRef": ref(refs.item_id),
                    "Qty": Decimal(1),
                    "UnitPrice": refund.amount,
                    "TaxCodeRef": ref("NON"),
                },
            }
        ],
    }
    if refs.method_id is not None:
        payload["PaymentMethodRef"] = ref(refs.method_id)
    payload["PrivateNote"] = refund_marker(key)
    return payload


def refund_receipt_update(
    refund: Refund,
    refs: RefundRefs,
    *,
    key: DocumentKey,
    payment_id: str,
    qbo_id: str,
    sync_token: str,
) -> Payload:
    return sparse_update(
        refund_receipt_create(refund, refs, key=key, payment_id=payment_id),
        qbo_id=qbo_id,
        sync_token=sync_token,
    )


REFUND_DIGEST_CHARS = 10
"""Base32 characters of the digest a long refund number carries (50 bits)."""


def refund_number(key: DocumentKey) -> str:
    """The DocNumber of refund `key` (`<payment id>/<refund id>`): unique within the company,
    at most 21 characters (QBO's limit), the same on every retry and resync.

    A refund's id is unique only within its payment (two payments may each have a refund
    "RF-1"), and refund receipts share the invoices' DocNumber namespace, where QBO refuses a
    repeat (6140): so the number names the payment too, `RF-PAY-1/RF-1`. Source ids never hold
    a "/", so that form is one-to-one. When it is longer than 21 characters it becomes
    `RF-<digest>-<end of the refund id>`: 10 base32 characters of a SHA-256 of both ids (two
    refunds of a company meet with odds about n^2 / 2^51; 100,000 long ones: 4 in a million),
    then what fits of the refund id, for a bookkeeper; without a "/", it never equals a short
    form. The receipt's line description and PrivateNote name both ids in full."""
    readable = f"{REFUND_NUMBER_PREFIX}{key.source_id}"
    if len(readable) <= DOC_NUMBER_MAX_LENGTH:
        return readable
    digest = hashlib.sha256(key.source_id.encode()).digest()
    short = base64.b32encode(digest).decode()[:REFUND_DIGEST_CHARS]
    refund_id = key.source_id.rsplit("/", 1)[-1]
    room = DOC_NUMBER_MAX_LENGTH - len(REFUND_NUMBER_PREFIX) - REFUND_DIGEST_CHARS - 1
    return f"{REFUND_NUMBER_PREFIX}{short}-{refund_id[-room:]}"
