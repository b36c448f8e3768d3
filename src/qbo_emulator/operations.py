"""Create, update (full and sparse), delete and void, with QBO's validations, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from qbo_emulator import accounting, choices, currency, faults, links, names, terms
from qbo_emulator.books import Company, Entity, ref
from qbo_emulator.entities import SALES_TXNS, SPECS, STRING_LIMITS, Spec
from qbo_emulator.index import TRAILING_DIGITS

DATE_OR_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?\Z"
)
READ_ONLY = ("Id", "SyncToken", "domain", "MetaData", "sparse")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Options:
    allow_duplicate_doc_number: bool = False
    as_user: bool = False  # an edit made by a QBO user in the UI: no closed-books check


def spec_for(entity: str) -> Spec:
    spec = SPECS.get(entity)
    if spec is None:
        raise faults.unsupported_operation(f"Unsupported entity {entity}")
    return spec


def _check_fields(spec: Spec, body: Entity) -> None:
    for key in body:
        if key not in spec.fields:
            raise faults.unsupported_property(key, spec.name)


def create(company: Company, entity: str, body: Entity, now: datetime, opts: Options) -> Entity:
    spec = spec_for(entity)
    if not spec.writable:
        raise faults.unsupported_operation(f"Operation Create is not supported for {entity}")
    _check_fields(spec, body)
    doc = {k: v for k, v in body.items() if k not in READ_ONLY}
    _normalize(company, spec, doc, body, None, now, opts)
    obj = company.insert(entity, doc, now)
    _after_write(company, entity, obj["Id"], None, obj, now)
    return obj


def update(company: Company, entity: str, body: Entity, now: datetime, opts: Options) -> Entity:
    spec = spec_for(entity)
    if not spec.writable:
        raise faults.unsupported_operation(f"Operation Update is not supported for {entity}")
    _check_fields(spec, body)
    stored = _current(company, entity, body)
    if body.get("sparse") is True:
        doc = {**stored, **{k: v for k, v in body.items() if k not in READ_ONLY}}
    else:
        kept = {k: stored[k] for k in READ_ONLY if k in stored}
        doc = {**{k: v for k, v in body.items() if k not in READ_ONLY}, **kept}
    for key in READ_ONLY:
        doc[key] = stored[key]
    old = dict(stored)
    _normalize(company, spec, doc, body, old, now, opts)
    company.replace(entity, doc)
    company.touch(doc, now)
    _after_write(company, entity, doc["Id"], old, doc, now)
    return doc


def delete(company: Company, entity: str, body: Entity, now: datetime, opts: Options) -> Entity:
    spec = spec_for(entity)
    if not spec.deletable:
        raise faults.unsupported_operation(
            f"Operation Delete is not supported for {entity}; make it inactive (Active=false)"
        )
    stored = _current(company, entity, body)
    if not opts.as_user:
        _check_books(company, stored)
    paid = entity in {"Invoice", "CreditMemo", "Bill"}
    if paid and any(link.get("TxnType") in links.TARGETS for link in stored.get("LinkedTxn", [])):
        raise faults.business(
            "This transaction has payments applied; delete or unapply them first", code="6220"
        )
    company.remove(entity, stored["Id"], now)
    _after_write(company, entity, stored["Id"], stored, None, now)
    return {"Id": stored["Id"], "status": "Deleted", "domain": "QBO"}


def void(company: Company, entity: str, body: Entity, now: datetime, opts: Options) -> Entity:
    spec = spec_for(entity)
    if spec.void is None:
        raise faults.unsupported_operation(f"Operation Void is not supported for {entity}")
    stored = _current(company, entity, body)
    if not opts.as_user:
        _check_books(company, stored)
    old = dict(stored)
    if entity == "Invoice" and choices.VOID_INVOICE_UNLINKS_PAYMENTS:
        for link in list(stored.get("LinkedTxn", [])):
            if link.get("TxnType") == "Payment":
                _unlink_payment(company, str(link["TxnId"]), stored["Id"], now)
    company.voided.add((entity, stored["Id"]))
    for line in stored.get("Line", []):
        line["Amount"] = ZERO
    stored["TotalAmt"] = ZERO
    stored["HomeTotalAmt"] = ZERO
    stored["Balance"] = ZERO
    currency.home_amounts(company, stored)
    if "TxnTaxDetail" in stored:
        stored["TxnTaxDetail"] = {**stored["TxnTaxDetail"], "TotalTax": ZERO, "TaxLine": []}
    if entity == "Payment":
        stored["UnappliedAmt"] = ZERO
    note = stored.get("PrivateNote")
    stored["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    company.touch(stored, now)
    _after_write(company, entity, stored["Id"], old, stored, now)
    return stored


def _unlink_payment(company: Company, payment_id: str, invoice_id: str, now: datetime) -> None:
    payment = company.get("Payment", payment_id)
    if payment is None:
        return
    old = {**payment, "Line": list(payment.get("Line", []))}
    kept = [
        line
        for line in payment.get("Line", [])
        if not any(
            link.get("TxnType") == "Invoice" and link.get("TxnId") == invoice_id
            for link in line.get("LinkedTxn", [])
        )
    ]
    payment["Line"] = kept
    links.check_payment(company, "Payment", payment, None)
    company.touch(payment, now)
    links.relink(company, "Payment", payment_id, old, payment, now)


def check_id(entity: str, entity_id: str) -> None:
    """An Id that is not a number is refused before any lookup (2030); the pseudo tax codes
    (TAX, NON, CustomSalesTax) are the only non-numeric Ids."""
    if not entity_id.strip().isdigit() and entity != "TaxCode":
        raise faults.invalid_id(entity_id)


def _current(company: Company, entity: str, body: Entity) -> Entity:
    if not body.get("Id"):
        raise faults.missing_param("Id")
    if body.get("SyncToken") is None:
        raise faults.missing_param("SyncToken")
    check_id(entity, str(body["Id"]))
    stored = company.require(entity, str(body["Id"]))
    if str(body["SyncToken"]) != stored["SyncToken"]:
        raise faults.stale(entity, stored["Id"])
    return stored


def check_lengths(entity: str, doc: Entity) -> None:
    """Strings longer than QBO stores are refused (2050), not cut (entities.STRING_LIMITS)."""
    for path, maximum in STRING_LIMITS.get(entity, {}).items():
        for value in _values_at(doc, path.split(".")):
            if isinstance(value, str) and len(value) > maximum:
                raise faults.string_too_long(path.rsplit(".", 1)[-1], maximum, len(value))


def _values_at(node: Any, path: list[str]) -> list[Any]:
    if isinstance(node, list):
        return [found for item in node for found in _values_at(item, path)]
    if not path:
        return [node]
    if not isinstance(node, dict) or path[0] not in node:
        return []
    return _values_at(node[path[0]], path[1:])


def _check_books(company: Company, doc: Entity) -> None:
    closed = company.preferences.get("AccountingInfoPrefs", {}).get("BookCloseDate")
    if closed and doc.get("TxnDate") and str(doc["TxnDate"]) <= str(closed)[:10]:
        raise faults.books_closed()


def _normalize(
    company: Company,
    spec: Spec,
    doc: Entity,
    body: Entity,
    old: Entity | None,
    now: datetime,
    opts: Options,
) -> None:
    for field in spec.required:
        if doc.get(field) in (None, "", []):
            raise faults.missing_param(field)
    check_lengths(spec.name, doc)
    own = old["Id"] if old else None
    _address_ids(company, doc, old)
    if spec.kind == "list":
        names.normalize(company, spec.name, doc, own, old)
        return
    if spec.plus_only and company.plan != "plus":
        raise faults.plan_gated("Purchase Order creation")
    entity = spec.name
    doc["TxnDate"] = _date(doc.get("TxnDate"), "TxnDate") or company.today(now).isoformat()
    if not opts.as_user:
        if old is not None:
            _check_books(company, old)
        _check_books(company, doc)
    _doc_number(company, entity, doc, own, opts)
    customer: Entity | None = None
    if "CustomerRef" in doc or entity in CUSTOMER_REQUIRED:
        customer = accounting.active_ref(company, "Customer", doc.get("CustomerRef"), "CustomerRef")
        doc["CustomerRef"] = ref(customer, "DisplayName")
        if entity in SALES_TXNS:
            _customer_addresses(company, doc, customer)
    _segments(company, doc)
    vendor: Entity | None = None
    if "VendorRef" in spec.required:
        vendor = accounting.active_ref(company, "Vendor", doc.get("VendorRef"), "VendorRef")
        doc["VendorRef"] = ref(vendor, "DisplayName")
    currency.txn_currency(company, doc, customer or vendor)
    if entity in LINKABLE:
        doc.setdefault("LinkedTxn", [])
    if entity in SALES_TXNS:
        accounting.apply_sales_totals(company, doc, body, old)
        _sales_defaults(company, entity, doc, customer)
    elif entity == "JournalEntry":
        accounting.apply_journal_totals(company, doc, old)
    elif entity == "Deposit":
        accounting.apply_deposit_totals(company, doc, old)
    elif entity == "Purchase":
        accounting.apply_purchase_totals(company, doc, old)
        _cash_purchase(company, doc)
    elif entity in {"Bill", "PurchaseOrder", "VendorCredit"}:
        if entity == "Bill":
            links.keep_payment_links(doc, old)
        accounting.apply_purchase_totals(company, doc, old)
        doc.setdefault("APAccountRef", _preset_ref(company, "ap"))
        if entity == "Bill":
            doc["DueDate"] = _date(doc.get("DueDate"), "DueDate") or doc["TxnDate"]
            doc["Balance"] = doc["TotalAmt"]
        elif entity == "VendorCredit":
            doc["Balance"] = doc["TotalAmt"]
        else:
            links.set_po_status(company, doc, body.get("POStatus"))
            doc.setdefault("EmailStatus", "NotSet")
    elif entity == "Payment":
        doc["TotalAmt"] = accounting.money(doc.get("TotalAmt"), "TotalAmt")
        doc.setdefault("DepositToAccountRef", _preset_ref(company, "undeposited"))
        doc.setdefault("ProcessPayment", False)
        _payment_lines(doc)
        links.check_payment(company, entity, doc, old)
    elif entity == "BillPayment":
        _bill_payment(company, doc)
        links.check_payment(company, entity, doc, old)
    if (entity, own) in company.voided:
        doc["TotalAmt"] = ZERO
    currency.home_amounts(company, doc)
    effect = links.stock_effect(company, entity, doc)
    if effect:
        links.check_stock_dates(company, doc, effect)


ADDRESS_FIELDS = ("BillAddr", "ShipAddr", "VendorAddr", "ShipFromAddr", "OtherAddr")


def _address_ids(company: Company, doc: Entity, old: Entity | None) -> None:
    """Every stored address has an Id (choices.ADDRESS_IDS): one sent with the Id the object's
    address already has keeps it; any other sent address is a new address with a new Id."""
    for field in ADDRESS_FIELDS:
        address = doc.get(field)
        if not isinstance(address, dict) or not address:
            continue
        address = dict(address)
        before = ((old or {}).get(field) or {}).get("Id")
        if address.get("Id") is None or before is None or str(address["Id"]) != str(before):
            address["Id"] = company.new_address_id()
        else:
            address["Id"] = str(address["Id"])
        doc[field] = address


def _customer_addresses(company: Company, doc: Entity, customer: Entity) -> None:
    """A sales form sent without addresses takes the customer's: the billing address as a new
    address (new Id), the shipping address as the customer's own (same Id)."""
    bill = customer.get("BillAddr")
    if not doc.get("BillAddr") and isinstance(bill, dict) and bill:
        copied = {k: v for k, v in bill.items() if k != "Id"}
        doc["BillAddr"] = {**copied, "Id": company.new_address_id()}
    ship = customer.get("ShipAddr")
    if not doc.get("ShipAddr") and isinstance(ship, dict) and ship:
        doc["ShipAddr"] = dict(ship)


# Transactions QBO answers with a top-level LinkedTxn, empty when nothing links them.
LINKABLE = SALES_TXNS | frozenset({"Bill", "PurchaseOrder", "VendorCredit", "Purchase"})
CUSTOMER_REQUIRED = frozenset({"Invoice", "CreditMemo", "Payment", "Estimate"})
SEGMENT_REFS = (
    ("ClassRef", "Class"),
    ("DepartmentRef", "Department"),
    ("PaymentMethodRef", "PaymentMethod"),
)


def _segments(company: Company, doc: Entity) -> None:
    """A Class, Department or PaymentMethod a transaction names must exist (else 2500) and be
    active (else 610), as QBO resolves name-list references (reference §2 error table: 610
    for a missing or inactive record, 2500 for a reference to one). A deleted PaymentMethod is
    an inactive one."""
    for field, entity in SEGMENT_REFS:
        if doc.get(field):
            found = accounting.active_ref(company, entity, doc[field], field)
            doc[field] = ref(found, "FullyQualifiedName")


def _sales_defaults(company: Company, entity: str, doc: Entity, customer: Entity | None) -> None:
    if entity in {"RefundReceipt", "SalesReceipt"}:
        if entity == "SalesReceipt":
            doc.setdefault("DepositToAccountRef", _preset_ref(company, "undeposited"))
        account = accounting.active_ref(
            company, "Account", doc.get("DepositToAccountRef"), "DepositToAccountRef"
        )
        doc["DepositToAccountRef"] = ref(account)
        doc["Balance"] = ZERO
    elif entity == "Estimate":
        doc.pop("Balance", None)
        doc.setdefault("TxnStatus", "Pending")
        if doc.get("ExpirationDate"):
            doc["ExpirationDate"] = _date(doc["ExpirationDate"], "ExpirationDate")
    else:
        doc["Balance"] = doc["TotalAmt"]
    if entity == "Invoice":
        terms.apply_terms(company, doc, customer, _date(doc.get("DueDate"), "DueDate"))
    if doc.get("ShipDate"):
        doc["ShipDate"] = _date(doc["ShipDate"], "ShipDate")
    if entity == "CreditMemo":
        doc["RemainingCredit"] = doc["TotalAmt"]
    doc.setdefault("PrintStatus", "NeedToPrint")
    doc.setdefault("EmailStatus", "NotSet")
    doc.setdefault("ApplyTaxAfterDiscount", False)


PAYMENT_TYPES = {"Cash", "Check", "CreditCard"}


def _cash_purchase(company: Company, doc: Entity) -> None:
    """A Purchase (expense, check, card charge) pays from AccountRef at once: no balance."""
    kind = doc.get("PaymentType")
    if kind not in PAYMENT_TYPES:
        raise faults.invalid_value("PaymentType", f"Invalid Enumeration : {kind}", "2120")
    account = accounting.active_ref(company, "Account", doc.get("AccountRef"), "AccountRef")
    doc["AccountRef"] = ref(account)
    entity_ref = doc.get("EntityRef")
    if isinstance(entity_ref, dict) and entity_ref.get("value"):
        kind_of = str(entity_ref.get("type") or "Vendor")
        if kind_of not in {"Vendor", "Customer", "Employee"}:
            raise faults.invalid_value("EntityRef", f"Invalid Enumeration : {kind_of}", "2120")
        party = accounting.active_ref(company, kind_of, entity_ref, "EntityRef")
        doc["EntityRef"] = {**ref(party, "DisplayName"), "type": kind_of}
    doc.setdefault("Credit", False)


def _payment_lines(doc: Entity) -> None:
    for line in doc.get("Line", []) or []:
        line["Amount"] = accounting.money(line.get("Amount"), "Amount")


def _bill_payment(company: Company, doc: Entity) -> None:
    pay_type = doc.get("PayType")
    if pay_type not in {"Check", "CreditCard"}:
        raise faults.invalid_value("PayType", f"Invalid Enumeration : {pay_type}", "2120")
    doc["TotalAmt"] = accounting.money(doc.get("TotalAmt"), "TotalAmt")
    _payment_lines(doc)
    if pay_type == "Check":
        check = dict(doc.get("CheckPayment") or {})
        bank = accounting.active_ref(
            company, "Account", check.get("BankAccountRef"), "BankAccountRef"
        )
        check["BankAccountRef"] = ref(bank)
        check.setdefault("PrintStatus", "NeedToPrint")
        doc["CheckPayment"] = check
    else:
        card = dict(doc.get("CreditCardPayment") or {})
        account = accounting.active_ref(
            company, "Account", card.get("CCAccountRef"), "CCAccountRef"
        )
        card["CCAccountRef"] = ref(account)
        doc["CreditCardPayment"] = card
    doc.setdefault("APAccountRef", _preset_ref(company, "ap"))


def _preset_ref(company: Company, key: str) -> dict[str, str]:
    account = company.get("Account", company.preset_accounts.get(key, ""))
    return ref(account) if account else {"value": ""}


def _date(value: Any, element: str) -> str | None:
    """QBO's dates are `YYYY-MM-DD`; a date-time (`2025-05-27T00:00:00`) is taken as its date
    (reference §4 Invoice); anything else is refused (2070)."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if not DATE_OR_DATE_TIME.match(text):
            raise ValueError(text)
        if len(text) == len("YYYY-MM-DD"):
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        raise faults.invalid_value(element, f"Invalid date {value}", "2070") from None


def _doc_number(company: Company, entity: str, doc: Entity, own: str | None, opts: Options) -> None:
    number = doc.get("DocNumber")
    custom = company.preferences.get("SalesFormsPrefs", {}).get("CustomTxnNumbers")
    auto = number == "AUTO_GENERATE" or (number in (None, "") and not custom and own is None)
    if auto and entity in SALES_TXNS:
        number = _next_number(company, entity)
    if number in (None, ""):
        doc.pop("DocNumber", None)
        return
    number = str(number)
    if len(number) > choices.DOCNUMBER_MAX_LENGTH:
        raise faults.string_too_long("DocNumber", choices.DOCNUMBER_MAX_LENGTH, len(number))
    doc["DocNumber"] = number
    if opts.allow_duplicate_doc_number:
        return
    group = next((g for g in choices.DOCNUMBER_UNIQUE_GROUPS if entity in g), None)
    for other_type in sorted(group or ()):
        found = company.find(other_type, [("DocNumber", [number])])
        for other in company.table(other_type).values() if found is None else found:
            if other.get("DocNumber") == number and not (
                other_type == entity and other["Id"] == own
            ):
                raise faults.duplicate_doc_number(number, other_type, other["Id"])


def _next_number(company: Company, entity: str) -> str:
    group = next((g for g in choices.DOCNUMBER_UNIQUE_GROUPS if entity in g), {entity})
    highest = company.highest_number(sorted(group), "DocNumber")
    match = TRAILING_DIGITS.match(str(highest.get("DocNumber", ""))) if highest else None
    if match is None:
        return "1001"
    prefix, digits = match.group(1), match.group(2)
    return f"{prefix}{str(int(digits) + 1).zfill(len(digits))}"


def _after_write(
    company: Company,
    entity: str,
    doc_id: str,
    old: Entity | None,
    new: Entity | None,
    now: datetime,
) -> None:
    if entity in links.TARGETS:
        links.relink(company, entity, doc_id, old, new, now)
    if entity in {"Invoice", "CreditMemo", "Bill"} and new is not None:
        links.refresh_balance(company, entity, doc_id)
    if entity == "Bill":
        links.relink_purchase_orders(company, doc_id, old, new, now)
    if entity in links.CUSTOMER_BALANCE:
        for customer_id in links.customer_ids(old, new):
            links.refresh_customer_balance(company, customer_id)
    if (entity, doc_id) in company.voided and new is not None:
        links.move_stock(company, links.stock_effect(company, entity, old), {})
        return
    links.move_stock(
        company, links.stock_effect(company, entity, old), links.stock_effect(company, entity, new)
    )
