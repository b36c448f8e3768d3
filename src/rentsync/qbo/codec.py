"""JSON in and out with exact money: numbers with a fraction are `Decimal` both ways."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rentsync.qbo.errors import loads

__all__ = ["dumps", "loads"]


def _encode(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str | int):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to QuickBooks")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise TypeError("money must be Decimal, not float")
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} for QuickBooks")


def dumps(value: Any) -> bytes:
    """Compact JSON; a Decimal is written digit for digit (never through float)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode()
