"""JSON in and out the way QBO writes it: Decimal money, string Ids, offset-aware times."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """Round half-up to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def _plain(value: Any) -> Any:
    """JSON for what the encoder does not know: Decimal money as a JSON number."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)  # shortest repr of a 2-dp Decimal is exact: 119.6, 9.6
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=_plain).encode()


def loads(raw: bytes) -> Any:
    return json.loads(raw, parse_float=Decimal)


def iso_seconds(moment: datetime) -> str:
    """MetaData style: 2025-06-11T06:49:01-07:00."""
    return moment.isoformat(timespec="seconds")


def iso_millis(moment: datetime) -> str:
    """Envelope `time` style: 2025-06-11T06:49:01.154-07:00."""
    return moment.isoformat(timespec="milliseconds")


def parse_moment(text: str) -> datetime | None:
    """Parse an ISO date or date-time; accepts -0700 offsets as QBO queries do."""
    candidate = text.strip()
    if len(candidate) >= 5 and candidate[-5] in "+-" and candidate[-3] != ":":
        candidate = candidate[:-2] + ":" + candidate[-2:]
    try:
        return datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    except ValueError:
        return None
