"""A stable hash of a payload's content: the engine skips a write when QBO already holds it.

Canonical JSON: keys sorted, no whitespace, every number as its plain decimal string without
trailing zeros (70, 70.0 and 70.00 are one amount), dates as ISO strings. The fields that
change with each write (Id, SyncToken, sparse) are left out, so a create and the equivalent
update of the same content hash alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

VOLATILE_FIELDS = frozenset({"Id", "SyncToken", "sparse"})


def fingerprint(payload: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical form of `payload`'s content (64 characters)."""
    content = {key: value for key, value in payload.items() if key not in VOLATILE_FIELDS}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal | int):
        return _number(Decimal(value))
    if isinstance(value, date):
        return value.isoformat()
    # A float in a payload is a bug (money is Decimal); refuse it rather than hash its drift.
    raise TypeError(f"cannot fingerprint a {type(value).__name__}: {value!r}")


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot fingerprint {value}")
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text
