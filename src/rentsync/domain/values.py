"""Value types every ingest model shares: the rules for ids and dates live here, once.

Dates are parsed strictly: only "YYYY-MM-DD" (a `date` when built in code). pydantic's lax mode
would turn the number 0 into 1970-01-01 and "1700000000" into a date as well; for books, a
number where a date belongs is a mistake to refuse, not to guess. Likewise a flag is true or
false (not "yes", "off" or 1) and a version a whole number (not "5", 5.0 or true).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints

MAX_VERSION = 2**63 - 1
"""The largest `version` PostgreSQL's bigint holds."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    if isinstance(value, dt.datetime):
        raise ValueError("a date, not a date-time (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return dt.date.fromisoformat(value)  # an impossible day (02-30) raises ValueError
    raise ValueError("a date as YYYY-MM-DD")


def _iso_datetime(value: object) -> object:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and _ISO_DATE.match(value):
        parsed = dt.datetime.fromisoformat(value)
    else:
        raise ValueError("a date-time as ISO 8601 with its time zone (2026-06-01T09:00:00Z)")
    if parsed.tzinfo is None:
        raise ValueError("a date-time needs its time zone (Z or +hh:mm)")
    return parsed


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A calendar date, given as "YYYY-MM-DD" and nothing else."""

IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
"""An instant, given as ISO 8601 with its time zone and nothing else."""


Flag = Annotated[bool, Strict()]
"""JSON true or false, nothing else."""

Version = Annotated[int, Strict(), Field(ge=0, le=MAX_VERSION)]
"""A JSON whole number from 0 to 2^63-1 (PostgreSQL's bigint), nothing else."""


def _url_safe(value: str) -> str:
    if set(value) == {"."}:
        raise ValueError("an id made of dots only would be a path step in its status URL")
    return value


SourceId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"
    ),
    AfterValidator(_url_safe),
]
"""The rental system's id of a document; unique per company and document type. It appears in
URLs as given (`/api/v1/orders/{id}/sync`), so it is URL-safe as it is: letters, digits and
`. _ : -`, and not `.` or `..`."""
