"""Payment terms (Term) and the DueDate they give a sales form (choices.DUE_DATE_FROM_TERMS)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from qbo_emulator import faults
from qbo_emulator.accounting import active_ref
from qbo_emulator.books import Company, Entity, ref

TERM_TYPES = {"STANDARD", "DATE_DRIVEN"}


def _whole(doc: Entity, field: str, low: int, high: int) -> int | None:
    value = doc.get(field)
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise faults.invalid_value(field, f"Invalid Number: {field}={value}", "2090") from None
    if not low <= number <= high:
        raise faults.invalid_value(field, f"{field} must be between {low} and {high}", "2090")
    return number


def check_term(doc: Entity) -> None:
    """A Term is either STANDARD (DueDays after the transaction date) or DATE_DRIVEN (the
    DayOfMonthDue, next month when issued within DueNextMonthDays of it)."""
    kind = str(doc.get("Type") or ("DATE_DRIVEN" if doc.get("DayOfMonthDue") else "STANDARD"))
    if kind not in TERM_TYPES:
        raise faults.invalid_value("Type", f"Invalid Enumeration : {kind}", "2120")
    doc["Type"] = kind
    if kind == "STANDARD":
        doc["DueDays"] = _whole(doc, "DueDays", 0, 999) or 0
        _whole(doc, "DiscountDays", 0, 999)
    else:
        due = _whole(doc, "DayOfMonthDue", 1, 31)
        if due is None:
            raise faults.missing_param("DayOfMonthDue")
        doc["DayOfMonthDue"] = due
        doc["DueNextMonthDays"] = _whole(doc, "DueNextMonthDays", 0, 31) or 0


def _day_in_month(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def due_date(term: Entity, txn_date: date) -> date:
    if term.get("Type") == "DATE_DRIVEN":
        day = int(term["DayOfMonthDue"])
        due = _day_in_month(txn_date.year, txn_date.month, day)
        within = int(term.get("DueNextMonthDays") or 0)
        if txn_date > due or (due - txn_date).days < within:
            year, month = (
                (txn_date.year + 1, 1)
                if txn_date.month == 12
                else (
                    txn_date.year,
                    txn_date.month + 1,
                )
            )
            due = _day_in_month(year, month, day)
        return due
    return txn_date + timedelta(days=int(term.get("DueDays") or 0))


def apply_terms(company: Company, doc: Entity, customer: Entity | None, sent_due: Any) -> None:
    """SalesTermRef: the one sent, else the customer's; DueDate: the one sent, else from the
    terms, else the transaction date."""
    term_ref = doc.get("SalesTermRef") or (customer or {}).get("SalesTermRef")
    term = active_ref(company, "Term", term_ref, "SalesTermRef") if term_ref else None
    if term is not None:
        doc["SalesTermRef"] = ref(term)
    txn_date = date.fromisoformat(str(doc["TxnDate"]))
    if sent_due:
        doc["DueDate"] = sent_due
    else:
        doc["DueDate"] = (due_date(term, txn_date) if term else txn_date).isoformat()
