"""Bulk sync (R18, B5): which orders a bulk sync covers, what the preview plans for each, and
what the whole run costs at QuickBooks' rate ceiling. Pure values and arithmetic.

The ceiling (reference §1 and §6), per QBO company (realm):
- single requests: 500 a minute and at most 10 in flight;
- batch requests: 40 a minute per realm and app, at most 30 items each, and every batch counts
  as one of the 500.
A bulk sync sends single requests (the same writes, requestids and lookups as real-time sync,
B1) and takes only a share of the 500, `BULK_SHARE`, leaving the rest for the company's
real-time events; the estimate is the planned QBO calls at that share. The real-time work of
the same minute may take more of it, which makes the run slower than estimated, never faster.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rentsync.domain import qbo as qbo_rules
from rentsync.domain.documents import OrderKind
from rentsync.domain.values import Flag, IsoDate

REQUESTS_PER_MINUTE = qbo_rules.REQUESTS_PER_MINUTE
IN_FLIGHT = qbo_rules.IN_FLIGHT
BATCHES_PER_MINUTE = qbo_rules.BATCHES_PER_MINUTE
BATCH_ITEMS = qbo_rules.BATCH_ITEMS
BULK_SHARE = 0.8
"""The part of a realm's 500 requests a minute a bulk sync plans for; the rest is headroom for
the company's real-time sync (B9)."""

MAX_NUMBERS = 1000

InvoiceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=21)
]


class Selection(BaseModel):
    """The orders a bulk sync covers: every condition given must hold (none: every order)."""

    model_config = ConfigDict(extra="forbid")

    date_from: IsoDate | None = Field(
        default=None, description="Invoice date on or after (YYYY-MM-DD)."
    )
    date_to: IsoDate | None = Field(default=None, description="Invoice date on or before.")
    numbers: list[InvoiceNumber] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NUMBERS,
        description="Invoice numbers (the QBO DocNumber), at most 1000.",
    )
    kinds: list[OrderKind] | None = Field(
        default=None, min_length=1, description="Orders, quotes or both (default both)."
    )
    not_in_qbo: Flag = Field(
        default=False,
        description="Only orders QuickBooks does not hold yet (e.g. those created before the "
        "connection, R14).",
    )

    @model_validator(mode="after")
    def range_in_order(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self


class Planned(enum.StrEnum):
    """What the preview says the run does with one order."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    FAIL = "fail"


UP_TO_DATE = "up_to_date"
UP_TO_DATE_MESSAGE = "QuickBooks already holds this version of the invoice; nothing to send."
TAX_UNKNOWN = "tax_rate_unknown"


@dataclass(frozen=True, kw_only=True)
class Plan:
    """One order's plan: the outcome, why (skip and fail), and the QBO calls it costs alone
    (its customer and products are counted once per bulk sync, `REFERENCE_CALLS`)."""

    planned: Planned
    reason: str | None = None
    message: str | None = None
    calls: int = 0


WRITE_CALLS = 1
"""A create or a sparse update of an invoice: one request (the answer holds what QBO saved)."""
REFERENCE_CALLS = 2
"""A customer or product QuickBooks does not hold yet: a look-up by name, then the create."""


def bulk_requests_per_minute(requests_per_minute: int = REQUESTS_PER_MINUTE) -> float:
    """The requests a minute a bulk sync plans for, of the realm's ceiling."""
    return requests_per_minute * BULK_SHARE


def estimated_duration(calls: int, requests_per_minute: int = REQUESTS_PER_MINUTE) -> timedelta:
    """How long `calls` single requests take at the bulk share of the ceiling."""
    return timedelta(minutes=calls / bulk_requests_per_minute(requests_per_minute))


def ceiling_text(requests_per_minute: int = REQUESTS_PER_MINUTE) -> str:
    return (
        f"single requests: {requests_per_minute} a minute and {IN_FLIGHT} in flight per "
        f"QuickBooks company; a bulk sync plans for {BULK_SHARE:.0%} of them "
        f"({bulk_requests_per_minute(requests_per_minute):.0f} a minute), the rest stays for "
        f"real-time sync (batches: {BATCHES_PER_MINUTE} a minute, {BATCH_ITEMS} items each, "
        f"each one of the {requests_per_minute})"
    )


class State(enum.StrEnum):
    PREVIEWING = "previewing"
    PREVIEWED = "previewed"
    RUNNING = "running"
    CANCELLED = "cancelled"
    DONE = "done"


@dataclass(frozen=True, kw_only=True)
class Progress:
    """A bulk sync's orders by where they are: not handed to the sync yet, in it, or ended."""

    waiting: int = 0
    in_sync: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    changed_since_preview: int = 0
    """Orders changed after the preview: the run synced (or syncs) their current version."""
    differs_from_preview: int = 0
    """Orders that ended otherwise than the preview said (e.g. changed, or QuickBooks refused)."""

    @property
    def finished(self) -> int:
        return self.created + self.updated + self.skipped + self.failed


@dataclass(frozen=True, kw_only=True)
class Pace:
    """How fast a started bulk sync goes: its orders ended per minute since it started, and the
    time its orders not ended yet take at that rate (both None until one has ended)."""

    per_minute: float | None = None
    remaining: timedelta | None = None


def pace_of(progress: Progress, *, started_at: datetime | None, now: datetime) -> Pace:
    """The rate and the ETA the CLI's progress bar and the console show (one home)."""
    if started_at is None or progress.finished == 0:
        return Pace()
    minutes = (now - started_at).total_seconds() / 60
    if minutes <= 0:
        return Pace()
    rate = progress.finished / minutes
    left = progress.waiting + progress.in_sync
    return Pace(per_minute=rate, remaining=timedelta(minutes=left / rate))


_ENDED = {"synced", "skipped", "failed"}


def progress_of(counts: list[tuple[str, str, int, int]]) -> Progress:
    """From (planned, outcome, count, changed) rows: outcome is `waiting`, `pending` (in the
    sync) or the ledger's final state (`skipped` for a planned skip handed over)."""
    totals = dict.fromkeys(
        ("waiting", "in_sync", "created", "updated", "skipped", "failed", "changed", "differs"), 0
    )
    for planned, outcome, count, changed in counts:
        totals["changed"] += changed
        if outcome == "waiting":
            totals["waiting"] += count
        elif outcome not in _ENDED:
            totals["in_sync"] += count
        elif outcome == "synced":
            totals["updated" if planned == Planned.UPDATE else "created"] += count
        else:
            totals[outcome] += count
        if outcome in _ENDED and _expected(planned) != outcome:
            totals["differs"] += count
    return Progress(
        waiting=totals["waiting"],
        in_sync=totals["in_sync"],
        created=totals["created"],
        updated=totals["updated"],
        skipped=totals["skipped"],
        failed=totals["failed"],
        changed_since_preview=totals["changed"],
        differs_from_preview=totals["differs"],
    )


def _expected(planned: str) -> str:
    return {Planned.SKIP: "skipped", Planned.FAIL: "failed"}.get(Planned(planned), "synced")
