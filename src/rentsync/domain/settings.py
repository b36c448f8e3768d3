"""A company's sync settings (R10, R11), set once and honoured by every posting."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SyncMode(enum.StrEnum):
    WITH_PAYMENT = "orders_and_quotes_with_payment"
    """Every order; a quote only once it has a payment."""
    ALL = "all_orders_and_quotes"
    ONLY_WITH_PAYMENT = "only_with_payment"
    """Orders and quotes alike, only once they have a payment (the seed's other reading)."""


class AccountRole(enum.StrEnum):
    """What a mapped account is used for, and so which QBO account types it may have."""

    INCOME = "income"
    EXPENSE = "expense"
    ASSET = "asset"
    PAYABLE = "payable"
    VENDOR_PAYMENT = "vendor_payment"
    DEPOSIT = "deposit"


ALLOWED_ACCOUNT_TYPES: dict[AccountRole, frozenset[str]] = {
    AccountRole.INCOME: frozenset({"Income", "Other Income"}),
    AccountRole.EXPENSE: frozenset({"Cost of Goods Sold"}),
    AccountRole.ASSET: frozenset({"Other Current Asset"}),
    AccountRole.PAYABLE: frozenset({"Accounts Payable"}),
    AccountRole.VENDOR_PAYMENT: frozenset({"Bank", "Credit Card"}),
    AccountRole.DEPOSIT: frozenset({"Bank", "Other Current Asset"}),
}
"""QBO AccountType values each role accepts (reference/qbo-api.md §4 Account; Undeposited Funds
is an Other Current Asset)."""

EXPENSE_CATEGORY_TYPES: frozenset[str] = frozenset(
    {"Expense", "Other Expense", "Cost of Goods Sold"}
)
"""A vendor bill line's expense category maps to an account of one of these types."""


class AccountMapping(BaseModel):
    """QBO Account Ids per role; None until the user maps it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    income: str | None = Field(default=None, max_length=32)
    expense: str | None = Field(default=None, max_length=32)
    asset: str | None = Field(default=None, max_length=32)
    payable: str | None = Field(default=None, max_length=32)
    vendor_payment: str | None = Field(default=None, max_length=32)
    deposit: str | None = Field(
        default=None, max_length=32, description="Customer payments; default Undeposited Funds."
    )
    expense_categories: dict[Annotated[str, Field(min_length=1, max_length=100)], str] = Field(
        default_factory=dict,
        max_length=200,
        description=(
            "Vendor bill expense categories -> a QBO Expense, Other Expense or COGS account Id."
        ),
    )

    def for_role(self, role: AccountRole) -> str | None:
        value: str | None = getattr(self, role.value)
        return value


class SyncSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sync_mode: SyncMode = SyncMode.WITH_PAYMENT
    accounts: AccountMapping = AccountMapping()
