"""A document that cannot become a QBO payload: found before any write, fixed by the user."""

from __future__ import annotations

import enum


class MappingProblem(enum.StrEnum):
    """Stable codes, stored in the ledger like QBO's codes so system messages can filter them."""

    ACCOUNT_NOT_MAPPED = "rentsync_account_not_mapped"
    INVENTORY_NEEDS_PLUS = "rentsync_inventory_needs_plus"
    REFERENCE_MISSING = "rentsync_reference_missing"
    TAX_RATE_NOT_SYNCED = "rentsync_tax_rate_not_synced"
    TAX_WITHOUT_RATE = "rentsync_tax_without_rate"
    NO_CUSTOMER_CREDIT = "rentsync_no_customer_credit"
    PAYMENT_VOIDED = "rentsync_payment_voided"
    ACCOUNT_UNUSABLE = "rentsync_account_unusable"
    PURCHASE_ORDERS_NEED_PLUS = "rentsync_purchase_orders_need_plus"
    BILL_OF_ANOTHER_VENDOR = "rentsync_bill_of_another_vendor"


class MappingError(Exception):
    """`field` names the setting or document field at fault; `remedy` says what to do."""

    def __init__(self, problem: MappingProblem, message: str, *, field: str, remedy: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.code = problem.value
        self.message = message
        self.field = field
        self.remedy = remedy

    def __str__(self) -> str:
        return f"{self.message} ({self.field}). {self.remedy}"
