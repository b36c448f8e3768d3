"""Golden payloads: stored as JSON under `snapshots/`, compared as text, reviewed as diffs.

Decimals are written as JSON numbers with their exact places (70.00, not 70 or "70.00"), so a
change of type or scale shows in the diff. `UPDATE_SNAPSHOTS=1 pytest tests/unit` rewrites them.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

DIRECTORY = Path(__file__).parent / "snapshots"
_DECIMAL = "@@decimal:"
_DECIMAL_TOKEN = re.compile(r'"@@decimal:([-0-9.]+)"')


def render(payload: Any) -> str:
    return _DECIMAL_TOKEN.sub(r"\1", json.dumps(_tagged(payload), indent=2)) + "\n"


def _tagged(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _tagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tagged(item) for item in value]
    if isinstance(value, Decimal):
        return f"{_DECIMAL}{value}"
    if isinstance(value, float):
        raise TypeError(f"a float in a payload: {value!r} (money and quantities are Decimal)")
    if isinstance(value, date):
        raise TypeError(f"a date object in a payload: {value!r} (dates are ISO strings)")
    return value


def assert_matches_snapshot(payload: Any, name: str) -> None:
    path = DIRECTORY / f"{name}.json"
    text = render(payload)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 and review it")
    assert text == path.read_text(), f"payload differs from {path.name}"
