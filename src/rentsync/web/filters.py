"""Reading the list screens' filters from the query string: a bad value is named on the page
(422, the list left empty), never a 500 and never a JSON body in front of a person."""

from __future__ import annotations

import re
from datetime import date, datetime


class Problems(list[str]):
    """What was wrong with the filters, in words, for the page."""


def day(value: str | None, label: str, problems: Problems) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{label}: enter a date as YYYY-MM-DD.")
        return None


def matching(
    value: str | None, pattern: re.Pattern[str], label: str, problems: Problems
) -> str | None:
    if not value:
        return None
    if not pattern.match(value):
        problems.append(f"{label}: letters and digits only.")
        return None
    return value


def whole_number(
    value: str | None, low: int, high: int, label: str, problems: Problems
) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        problems.append(f"{label}: a whole number from {low} to {high}.")
        return None
    return int(value)


def position(value: str | None, problems: Problems) -> tuple[datetime, str, str] | None:
    """The place a list left off (`updated_at|doc_type|source_id` of its last row)."""
    if not value:
        return None
    try:
        stamp, doc_type, source_id = value.split("|", 2)
        return datetime.fromisoformat(stamp), doc_type, source_id
    except ValueError:
        problems.append("This page link is not valid any more; start from the first page.")
        return None


def position_of(updated_at: datetime, doc_type: str, source_id: str) -> str:
    return f"{updated_at.isoformat()}|{doc_type}|{source_id}"
