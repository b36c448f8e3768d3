"""Money and quantities: Decimal, never float; amounts carry at most two decimal places."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    if value != value.quantize(CENT):
        raise ValueError("an amount has at most two decimal places")
    return value.quantize(CENT)


def round_cents(value: Decimal) -> Decimal:
    """Round half up to cents, the way invoices are rounded."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=14), AfterValidator(_cents)]
"""An amount in the company's currency."""

NonNegativeMoney = Annotated[Money, Field(ge=0)]

Quantity = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=14, decimal_places=4)]

Percent = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False, decimal_places=4)]
"""8.25 means 8.25 %."""
