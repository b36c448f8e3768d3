"""Bulk sync (R18, B5): which documents a bulk sync covers, what the preview plans for each, and
what the whole run costs at QuickBooks' rate ceiling. Pure values and arithmetic.

A bulk sync covers every kind of document a company sends (`BulkKind`): orders and quotes, the
payments of those orders (with their refunds and voids), purchase orders, vendor bills and
vendor payments. Each kind's rules for a bulk sync (what it depends on, why it would be
skipped or fail, what it costs) live in its kind module (`BulkRule` on its `KindSpec`).

The ceiling (reference §1 and §6), per QBO company (realm):
- single requests: 500 a minute and at most 10 in flight;
- batch requests: 40 a minute per realm and app, at most 30 items each, and every batch counts
  as one of the 500.
A bulk sync takes the requests real-time sync does not keep (`domain.qbo`
`REAL_TIME_RESERVE_PER_MINUTE`: 500 - 60 = 440 a minute, the limiter's background share), and
its creates and look-ups travel as batch items (`sync.batching`), but for look-ups by name. The
estimate (`estimate`) is the batched cost model, what the coalescer does with the run's
operations:
- the references' look-ups by name share queries of 30 names, each a single request;
- until half the minute's batches are spent (`long_run`), every create and look-up of a
  document goes in a batch, a batch per dependent step at least (the references' creates, then
  the documents' batchable operations: each invoice's create, each payment's look-up and
  create, each bill's ..., as each kind's `BulkCost` says);
- then they also go singly beside the batches, as many as the second's share of requests
  leaves beside them: on a machine that makes creates ready about as fast as the ceiling takes
  them, the mix of a minute at the ceiling, 40 batches of 30 and 440 - 40 singles
  (`singles_share`, a quarter of the creates single);
- a run never has more than 40 batches in any minute: past that, singles only;
- reads, voids and sparse updates go singly.
Its time: those operations at the bulk share, at most 40 x 30 + (440 - 40) = 1,600 a minute,
the minute counted as the limiter counts it (62 s, `domain.qbo.MINUTE_MARGIN_SECONDS`); but a
run within one minute's budget (at most 440 requests and 40 batches) is not held by the minute
at all: its requests go at the second's pace (9 per 1 s + a round trip,
`bulk_requests_per_second`; never slower than the minute's rate), and a short one's time is
mostly its documents' waits (below); and
when the run creates references, the one round its first documents wait for theirs
(`REFERENCE_ROUND`: the references no longer hold every document back, so the rest of their
time is in the stream).
A run the ceiling does not bind takes as long as its documents' waits for one another
(`Chains`, `chain_seconds`): one lock's documents (an order, then its payment, then its
refund) run one after another, each batched operation waiting for its batch's linger and
round trip (fewer than 30 chains at once never fill a batch), so the time is at least the
longest lock's chain, and all chains' time shared among the locks in flight (`in_flight`: the
run's window over the documents per lock, at most the locks and the bulk lane's slots). Before
this was counted a small bulk sync of paid orders took about twice its estimate
(bench_backfill with payments: 20 paid orders, 8 s estimated, 14 s run).
The real-time work of the same minute may take more of it, which makes the run slower than
estimated; so does a machine that cannot keep up with the ceiling (fewer creates ready within the
batch linger: emptier batches, more singles). A company without real-time traffic lends the run
its real-time reserve after a minute (`domain.qbo.REAL_TIME_RESERVE_LENT_AFTER_SECONDS`), which
makes it up to 60 / 440 faster than estimated (the estimate keeps the reserve: a real-time request
takes it back at any time). On a machine much faster than
the ceiling a run shorter than a few minutes sends fewer singles than estimated: its batches
fill at once, and the minute's 40 go before the singles beside them (the count then tends to
40 full batches first, singles after).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from rentsync.domain import qbo as qbo_rules
from rentsync.domain.connection import Connection, ConnectionState
from rentsync.domain.documents import OrderKind
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.settings import SyncSettings
from rentsync.domain.values import Flag, IsoDate

REQUESTS_PER_MINUTE = qbo_rules.REQUESTS_PER_MINUTE
IN_FLIGHT = qbo_rules.IN_FLIGHT
BATCHES_PER_MINUTE = qbo_rules.BATCHES_PER_MINUTE
BATCH_ITEMS = qbo_rules.BATCH_ITEMS

MAX_NUMBERS = 1000

InvoiceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=21)
]


class BulkKind(enum.StrEnum):
    """The kinds of document a user selects, as a bookkeeper names them, each after those it
    depends on (a run sends a vendor's purchase orders, then its bills, then its payments). A
    payment's refunds and its void go with it; customers, products and vendors are synced
    first, as the selected documents need them."""

    ORDER = "order"
    QUOTE = "quote"
    PAYMENT = "payment"
    PURCHASE_ORDER = "purchase_order"
    VENDOR_BILL = "vendor_bill"
    VENDOR_PAYMENT = "vendor_payment"

    @property
    def label(self) -> str:
        """How the selection's form and summary name the kind: "Purchase orders", "Payments
        (with their refunds and voids)"."""
        names = KIND_NAMES[self.value]
        brought = f" (with {names.brings})" if names.brings else ""
        return f"{names.many.capitalize()}{brought}"


ORDER_KINDS = (BulkKind.ORDER, BulkKind.QUOTE)


@dataclass(frozen=True)
class KindNames:
    """A kind of document as a bookkeeper names one and several."""

    one: str
    many: str
    brings: str = ""
    """What selecting the kind brings along (a payment: its refunds and its void)."""


KIND_NAMES: dict[str, KindNames] = {
    "order": KindNames("order", "orders"),
    "quote": KindNames("quote", "quotes"),
    "payment": KindNames("payment", "payments", brings="their refunds and voids"),
    "refund": KindNames("refund", "refunds"),
    "payment_void": KindNames("payment's void", "payments' voids"),
    "purchase_order": KindNames("purchase order", "purchase orders"),
    "vendor_bill": KindNames("vendor bill", "vendor bills"),
    "vendor_payment": KindNames("vendor payment", "vendor payments"),
}
"""The one naming table of a bulk sync's kinds, for both uses: the kinds a user selects
(`BulkKind.label`) and those a preview counts its documents by (`bulk_syncs.kinds`), in the
run's order: an order and a quote apart (both are orders of the rental system, each a
QuickBooks invoice), a payment's refunds and its void apart from it."""


def by_kind(counts: Mapping[str, int]) -> dict[str, int]:
    """The kinds with documents, in `KIND_NAMES`' order (any other after them)."""
    known = [kind for kind in KIND_NAMES if counts.get(kind)]
    others = sorted(kind for kind in counts if kind not in KIND_NAMES and counts[kind])
    return {kind: counts[kind] for kind in [*known, *others]}


def kinds_text(counts: Mapping[str, int]) -> str:
    """A preview's documents by kind, as the CLI and the console say them: "20 orders, 1 quote,
    20 payments, 7 refunds" (kinds without documents left out; one home for both)."""
    parts = []
    for kind, count in by_kind(counts).items():
        names = KIND_NAMES.get(kind, KindNames(kind.replace("_", " "), kind.replace("_", " ")))
        parts.append(f"{count:,} {names.one if count == 1 else names.many}")
    return ", ".join(parts) or "no documents"


def orders_of(counts: Mapping[str, int]) -> int:
    """Orders and quotes among a preview's documents (each a QuickBooks invoice)."""
    return sum(counts.get(kind.value, 0) for kind in ORDER_KINDS)


KINDS_DESCRIPTION = (
    "Kinds of document (default: every kind). Dates and numbers select each kind by: "
    "order, quote: the invoice date and invoice number; payment (with its refunds and its "
    "void): its order's invoice date and invoice number (a payment goes with its order); "
    "purchase_order: its date and number; vendor_bill: its date (QBO TxnDate) and bill "
    "number (DocNumber); vendor_payment: its date (TxnDate) and reference number (DocNumber)."
)


class Selection(BaseModel):
    """The documents a bulk sync covers: every condition given must hold (none: every
    document of every kind)."""

    model_config = ConfigDict(extra="forbid")

    date_from: IsoDate | None = Field(
        default=None,
        description="Dated on or after (YYYY-MM-DD): the invoice date of an order, its "
        "payments' order's invoice date, a vendor document's own date (see kinds).",
    )
    date_to: IsoDate | None = Field(default=None, description="Dated on or before.")
    numbers: list[InvoiceNumber] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NUMBERS,
        description="Document numbers (the QBO DocNumber), at most 1000: invoice numbers for "
        "orders, quotes and their payments; bill, purchase order and vendor payment numbers "
        "for those (see kinds).",
    )
    kinds: list[BulkKind] | None = Field(default=None, min_length=1, description=KINDS_DESCRIPTION)
    not_in_qbo: Flag = Field(
        default=False,
        description="Only documents QuickBooks does not hold yet (e.g. those created before "
        "the connection, R14).",
    )

    @field_validator("numbers", "kinds")
    @classmethod
    def each_once(cls, value: list[Any] | None) -> list[Any] | None:
        """A number or kind given twice is selected once (and stored once), in the order
        first given."""
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("date_to")
    @classmethod
    def range_in_order(cls, value: date | None, info: ValidationInfo) -> date | None:
        """On the range's end, so the error names a field (the API's 422, the CLI's option)."""
        start = info.data.get("date_from")
        if value is not None and start is not None and start > value:
            raise PydanticCustomError(
                "date_range",
                "{end} is before the start of the range, {start}",
                {"end": value.isoformat(), "start": start.isoformat()},
            )
        return value

    def covers(self, kind: BulkKind) -> bool:
        return self.kinds is None or kind in self.kinds

    def order_kinds(self) -> list[OrderKind]:
        """The kinds of order whose invoices (or payments) the selection covers."""
        chosen = [OrderKind(k.value) for k in ORDER_KINDS if self.kinds and k in self.kinds]
        return chosen or list(OrderKind)


PREVIEWS_PREPARING_AT_ONCE = 3
"""Previews of one company being prepared at once (state `previewing`): each walks the
company's documents in a worker job, so a client that keeps creating them fills the workers.
A new one is refused past this (the API's 429) rather than superseding an older one: two
previews of different selections (orders, vendor bills) are each confirmed on purpose, and
cancelling one the user did not cancel would surprise them; a preview already prepared costs
nothing and never counts."""

_CONNECT_WHERE = "the console's QuickBooks settings page, or POST /api/v1/qbo/connect"


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Why a bulk sync cannot be created now, and what the user can do about it."""

    message: str
    remedy: str


def connection_refusal(
    connection: Connection, *, company_id: int, lost_reason: str | None = None
) -> Refusal | None:
    """A bulk sync needs QuickBooks connected (else every document would only be skipped);
    a lost connection says why it was lost (`qbo_connections.lost_reason`)."""
    if connection.state is ConnectionState.CONNECTED:
        return None
    if connection.state is ConnectionState.LOST:
        why = (lost_reason or "QuickBooks refused rentsync's authorization").rstrip(". ")
        return Refusal(
            message=f"QuickBooks is not connected for company {company_id}: the connection "
            f"was lost ({why}).",
            remedy=f"Reconnect QuickBooks ({_CONNECT_WHERE}), then preview the bulk sync again.",
        )
    return Refusal(
        message=f"QuickBooks is not connected for company {company_id}: a bulk sync would "
        "only skip its documents.",
        remedy=f"Connect QuickBooks ({_CONNECT_WHERE}) before a bulk sync.",
    )


def previews_refusal(preparing: Sequence[int]) -> Refusal:
    """A new preview while `PREVIEWS_PREPARING_AT_ONCE` of the company's are being prepared."""
    ids = ", ".join(str(bulk_id) for bulk_id in preparing)
    return Refusal(
        message=f"{len(preparing)} previews of this company are still being prepared (bulk "
        f"syncs {ids}); at most {PREVIEWS_PREPARING_AT_ONCE} at once.",
        remedy="Wait until one is previewed, or cancel one no longer needed (its console page, "
        "`rentsync bulk-sync --company ID --cancel BULK_ID` or POST "
        "/api/v1/bulk-syncs/BULK_ID/cancel), then preview again.",
    )


class Planned(enum.StrEnum):
    """What the preview says the run does with one order."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    FAIL = "fail"


UP_TO_DATE = "up_to_date"
TAX_UNKNOWN = "tax_rate_unknown"


@dataclass(frozen=True, kw_only=True)
class BulkCost:
    """The QBO operations one document costs in a bulk run: those that travel as batch items
    (creates, look-ups) and those sent singly (reads, voids, sparse updates)."""

    batched: int = 0
    single: int = 0


@dataclass(frozen=True, kw_only=True)
class Plan:
    """One document's plan: the outcome, why (skip and fail), and the QBO operations it costs
    alone (its customer, products or vendor are counted once per bulk sync, `REFERENCE_CALLS`)."""

    planned: Planned
    reason: str | None = None
    message: str | None = None
    cost: BulkCost = BulkCost()

    @property
    def calls(self) -> int:
        return self.cost.batched + self.cost.single


def up_to_date(what: str) -> Plan:
    """The plan of a document QuickBooks already holds at its current revision; `what` is its
    kind as a bookkeeper calls it (its listing's title: "Invoice", "Payment", "Vendor bill")."""
    return Plan(
        planned=Planned.SKIP,
        reason=UP_TO_DATE,
        message=f"QuickBooks already holds this version of the {what.lower()}; nothing to send.",
    )


def fails_again(*, code: str, message: str, remedy: str, cost: BulkCost) -> Plan:
    """The plan of a document whose last attempt at its current revision met a refusal
    QuickBooks gives again to the same request (`qbo.errors.fails_again` decides which): the
    run sends it once more (someone may have fixed the cause in QuickBooks meanwhile, which
    the preview cannot see; hence its cost), and it fails again unless so."""
    return Plan(
        planned=Planned.FAIL,
        reason=code,
        message=f"Would fail again: QuickBooks refused this version ({code}: {message}). "
        f"Fix: {remedy}",
        cost=cost,
    )


VOIDED_BEFORE_SENT = Plan(
    planned=Planned.SKIP,
    reason="voided_before_sent",
    message="The payment was voided before it reached QuickBooks: there is nothing to send.",
)
"""A payment voided before it was ever sent, and its void: nothing to write."""

INVOICE_CREATE = BulkCost(batched=1)
"""A create of an invoice: one operation (the answer holds what QBO saved)."""
INVOICE_UPDATE = BulkCost(single=1)
"""A sparse update of an invoice: one request (updates do not travel in batches)."""
REFERENCE_CALLS = 2
"""A customer, product or vendor QuickBooks does not hold yet: a look-up by name, then the
create."""
NAMES_PER_LOOKUP = BATCH_ITEMS
"""Look-ups by name that share one query (`sync.batching`: `DisplayName IN (...)`)."""
BATCH_LINGER_SECONDS = 60 / BATCHES_PER_MINUTE
"""How long a bulk run's batch waits for its items (one of QBO's batch intervals, 1.5 s;
`sync.bulk` uses it)."""
ROUND_TRIP_SECONDS = 0.5
"""A QuickBooks request's round trip, as the estimate counts it where one request must wait for
another (QBO's own latency is UNCONFIRMED: Intuit publishes none; the bench's emulator answers
in 150 ms, batches of 30 in about twice that)."""
REFERENCE_ROUND = timedelta(seconds=BATCH_LINGER_SECONDS + 2 * ROUND_TRIP_SECONDS)
"""How long a run's first documents wait for the references they need, before their own writes
go: one look-up by name (a single request) and one create (a batch, after its linger). Only
this first round adds to the run's time: references go to the sync ahead of the documents and
in the order they need them, and a document goes as soon as its own are settled
(`store.bulk_syncs` dispatch), so later references and the first documents share the minute's
budget (before, every document waited for every reference: about 75 s of a 290 s run)."""


@dataclass(frozen=True, kw_only=True)
class Standing:
    """Where a document stands, as far as planning needs: its ledger row and its body."""

    key: DocumentKey
    body: dict[str, Any] | None
    revision: int = 0
    qbo_id: str | None = None
    state: str | None = None
    synced_revision: int | None = None
    error: Mapping[str, Any] | None = None
    """The ledger's last failure while failed (code, message, detail, remedy, category)."""
    requested_revision: int | None = None
    """The revision its last job was asked to sync."""


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What a kind's bulk rule plans one document from (pure values): the document, what its
    dependencies will be when its job runs, the connection and the settings."""

    document: Standing
    connection: Connection
    settings: SyncSettings
    others: Mapping[DocumentKey, Standing]
    """The documents it depends on (`BulkRule.depends_on`), as stored."""
    ready: Callable[[DocumentKey], str | None]
    """None when the dependency will be in QuickBooks before this document's job runs (it is
    there, or this run writes it first); else what it is (skipped, failing, not received)."""
    qbo_plan: str = ""
    """The QuickBooks company's plan (e.g. purchase orders need Plus)."""


@dataclass(frozen=True, kw_only=True)
class SelectBy:
    """The body fields a kind selected on its own is selected by (dates and numbers)."""

    date: str
    number: str


@dataclass(frozen=True, kw_only=True)
class BulkRule:
    """A kind's part in a bulk sync (on its `KindSpec`): one home per kind."""

    selected_as: BulkKind
    """The kind a user selects it by (a refund and a void: payment)."""
    create: BulkCost
    update: BulkCost
    depends_on: Callable[[DocumentKey, dict[str, Any]], list[DocumentKey]] = field(
        default=lambda key, body: []
    )
    """Documents that must be in QuickBooks first (a payment: its order; a bill: its purchase
    order), each in the run before it or already there."""
    plan: Callable[[Facts], Plan | None] = field(default=lambda facts: None)
    """A skip or a known failure the kind's job would record (its policy, its dependencies,
    its mapping), or None: it will be written (or a create or update with a cost of its own)."""
    references: Callable[[DocumentKey, dict[str, Any]], list[DocumentKey]] = field(
        default=lambda key, body: []
    )
    """Name-list records it needs in QuickBooks (a bill: its vendor, its products), created
    first in the references phase."""
    select_by: SelectBy | None = None
    """Selected on its own by these fields (vendor-side documents); None: with its order."""


ESTIMATE_TOLERANCE = 0.25
"""How far the requests a run sends may be from the estimate (a share of it, plus
`ESTIMATE_SLACK`): batches fill less on a busy machine, a retried request counts twice."""
ESTIMATE_SLACK = 3


def bulk_requests_per_minute(requests_per_minute: int = REQUESTS_PER_MINUTE) -> int:
    """The requests a minute a bulk sync plans for: the realm's ceiling less what the limiter
    keeps for real-time sync (the same figure, `domain.qbo`)."""
    return requests_per_minute - qbo_rules.real_time_reserve_per_minute(requests_per_minute)


def bulk_requests_per_second(requests_per_minute: int = REQUESTS_PER_MINUTE) -> float:
    """The requests a second a bulk sync sends while the rolling minute has room: the second's
    share the limiter leaves to background work (10 - 1), each counted in the second from its
    take until its answer + 1 s (`qbo.limits`), so 9 per (1 s + a round trip)."""
    per_second = qbo_rules.scaled_rate(IN_FLIGHT, requests_per_minute)
    share = per_second - qbo_rules.real_time_reserve_per_second(requests_per_minute)
    return max(share, 1) / (1 + ROUND_TRIP_SECONDS)


def batches_per_minute(requests_per_minute: int = REQUESTS_PER_MINUTE) -> int:
    """QBO's batches a minute, in proportion for a minute other than 500 (as the limiter)."""
    return qbo_rules.scaled_rate(BATCHES_PER_MINUTE, requests_per_minute)


@dataclass(frozen=True, kw_only=True)
class Cost:
    """What a run costs at the bulk share of the ceiling."""

    operations: int
    """Creates, look-ups and updates, each counted once (what a run without batches sends)."""
    requests: int
    """QBO requests: batches plus single requests."""
    duration: timedelta


def long_run(batches_in_window: int, batches_per_minute: int = BATCHES_PER_MINUTE) -> bool:
    """Whether a bulk run has spent half the window's batches: from then on creates also go
    singly beside the batches (`sync.batching`), since batches alone would hold a long run to
    40 x 30 a minute and leave the singles' share of the minute unused. One home for the
    coalescer and the estimate."""
    return batches_in_window * 2 >= batches_per_minute


def singles_share(requests_per_minute: int = REQUESTS_PER_MINUTE) -> float:
    """Of the creates of a long run (`long_run`), the share that goes singly beside the
    batches when the run goes at the ceiling: the mix of a minute there, 40 batches of 30 and
    440 - 40 singles, so 400 of 1,600 (a quarter). (Singles beside batches take the second's
    requests the batches leave: 9 a second's 1.2 s less the batches, about this.)"""
    budget = bulk_requests_per_minute(requests_per_minute)
    batches = min(batches_per_minute(requests_per_minute), budget)
    per_minute = batches * BATCH_ITEMS + max(budget - batches, 0)
    return max(budget - batches, 0) / per_minute if per_minute else 0.0


@dataclass(frozen=True, kw_only=True)
class Chains:
    """How a run's documents wait for one another: the documents of one lock (an order and its
    payments, refunds and void; a vendor's documents) run one after another, each job after
    the one before it has ended; the locks run side by side."""

    documents: int = 0
    """Documents handed to the sync (all but the planned skips)."""
    groups: int = 0
    """The locks among them."""
    longest: BulkCost = BulkCost()
    """The operations of the lock whose chain takes longest (`chain_seconds`)."""


def chain_seconds(cost: BulkCost, *, side_by_side: float = 1.0) -> float:
    """How long a chain of jobs with these operations takes when the ceiling does not bind,
    `side_by_side` chains running at once: each single waits for its round trip, and so does
    each batched operation, after its batch's linger (`BATCH_LINGER_SECONDS`) unless enough
    chains run at once to fill a batch before it ends (a full batch goes at once)."""
    linger = BATCH_LINGER_SECONDS if side_by_side < BATCH_ITEMS else 0.0
    return cost.batched * (linger + ROUND_TRIP_SECONDS) + cost.single * ROUND_TRIP_SECONDS


def in_flight(chains: Chains, *, slots: int, window: int) -> float:
    """Chains that run side by side: the run keeps `window` of its documents in the sync, a
    lock's documents handed over together (so window / documents per lock locks, and no more
    than there are), each lock one job at a time in one of the bulk lane's `slots`."""
    if chains.documents <= 0 or chains.groups <= 0:
        return float(slots)
    per_window = window * chains.groups / chains.documents
    return max(1.0, min(float(slots), float(chains.groups), per_window))


def estimate(
    *,
    batched: int,
    singles: int,
    references: int,
    requests_per_minute: int = REQUESTS_PER_MINUTE,
    chains: Chains = Chains(),
    slots: int = 40,
    window: int = 80,
) -> Cost:
    """The batched cost of a bulk sync that first creates `references` customers, products and
    vendors (a look-up, then the create; the look-ups by name share queries of
    `NAMES_PER_LOOKUP`, each a request), then sends its documents' `batched` operations
    (creates and look-ups, as batch items) and `singles` (reads, voids, sparse updates), as
    each kind's `BulkCost` counts them. What the coalescer does with them, step by step in the
    module's docstring."""
    budget = bulk_requests_per_minute(requests_per_minute)
    batches = batches_per_minute(requests_per_minute)
    lookups = math.ceil(references / NAMES_PER_LOOKUP)
    operations = 2 * references + batched + singles
    sent = lookups + references + batched + singles  # requests and batch items
    per_minute = min(batches, budget) * BATCH_ITEMS + max(budget - batches, 0)
    minutes = sent / per_minute if per_minute else 0.0
    # Batches only, until half the window's are spent: one per dependent step at least.
    first = next(n for n in range(batches + 1) if long_run(n, batches))
    in_batches = 0.0
    rest = 0
    requests = lookups + singles
    for group in (references, batched):  # in the order their steps depend on each other
        if group <= 1:
            requests += group  # a lone call goes as a single call
            continue
        early = min(group, max(first - int(in_batches), 0) * BATCH_ITEMS)
        in_batches += math.ceil(early / BATCH_ITEMS)
        rest += group - early
    # Then batches and singles side by side, at the mix of a minute at the ceiling.
    beside = rest * singles_share(requests_per_minute)
    in_batches += (rest - beside) / BATCH_ITEMS
    # Never more batches than the run's minutes allow (a rolling minute: all of them in a
    # shorter run); the rest go singly.
    over = max(in_batches - batches * max(1.0, minutes), 0.0)
    in_batches -= over
    beside += over * BATCH_ITEMS
    requests += math.ceil(in_batches + beside - 1e-9)
    minutes = max(minutes, requests / budget if budget else 0.0)
    margin = (60 + qbo_rules.MINUTE_MARGIN_SECONDS) / 60
    seconds = minutes * 60 * margin
    if requests <= budget and in_batches <= batches:
        # Within one minute's budget (its requests and its batches): the rolling minute holds
        # nothing back, QBO takes the requests as they come, so they go at the second's pace
        # (never slower than the minute's rate, which is what a longer run averages), not at
        # the minute's 1,600 operations (300 invoices in 10 batches: 2 s, not 12 s;
        # bench_backfill ran 6 s where this said 15 s).
        seconds = min(seconds, requests / bulk_requests_per_second(requests_per_minute))
    if chains.documents:
        # The chains' time when the ceiling does not bind: the longest lock's chain, and all
        # the chains' time shared among those in flight (a small run of paid orders waited
        # for its payments' lingers: 3x the ceiling's time).
        side_by_side = in_flight(chains, slots=slots, window=window)
        all_chains = chain_seconds(
            BulkCost(batched=batched, single=singles), side_by_side=side_by_side
        )
        longest = chain_seconds(chains.longest, side_by_side=side_by_side)
        seconds = max(seconds, longest, all_chains / side_by_side)
    duration = timedelta(seconds=seconds)
    if references and batched + singles:
        duration += REFERENCE_ROUND  # the first documents wait for their references
    return Cost(operations=operations, requests=requests, duration=duration)


def ceiling_text(requests_per_minute: int = REQUESTS_PER_MINUTE) -> str:
    budget = bulk_requests_per_minute(requests_per_minute)
    batches = batches_per_minute(requests_per_minute)
    return (
        f"QuickBooks allows {requests_per_minute} a minute and {IN_FLIGHT} in flight per "
        f"company; a bulk sync takes {budget} a minute of them (the rest stays for real-time "
        f"sync), {batches} of which may be batches of up to {BATCH_ITEMS} creates or look-ups: "
        f"at most {min(batches, budget) * BATCH_ITEMS + max(budget - batches, 0)} operations a "
        "minute"
    )


class State(enum.StrEnum):
    PREVIEWING = "previewing"
    PREVIEWED = "previewed"
    RUNNING = "running"
    CANCELLED = "cancelled"
    DONE = "done"


@dataclass(frozen=True, kw_only=True)
class Progress:
    """A bulk sync's documents by where they are: not handed to the sync yet, in it, or ended."""

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
