"""Bulk sync (R18, B5, B9): preview a selection of orders, then hand them to the sync.

Why it is built this way:
- The preview plans each order with the code the sync itself runs before writing (the policy,
  the items' mapping, the invoice mapping), so what it says is what the run does: created,
  updated, skipped (with the policy's reason and message, or "already up to date") or failed
  (plan, account mapping, tax, a customer or product never sent). It is stored per order in
  the run's order (source id), a chunk per step: a preview of 100,000 orders never sits in
  memory, and a preview interrupted by a crash goes on from its cursor.
- The run does not write to QuickBooks itself: it defers each order's ordinary sync job (same
  task and job lock, requestids, write intents, lookups before creates, retry table: B1), with
  trigger `bulk_sync` (which releases orders created before the connection, R14), in the bulk
  lane: a queue every worker process runs with slots of its own (`RENTSYNC_BULK_CONCURRENCY`),
  so a real-time job never waits for a slot behind bulk jobs (B9), and the job lock keeps an
  order from running in two jobs at once, bulk or not. Those jobs are run by group jobs
  (`group_size` documents or so each, `store.job_groups`): the lane fetches one job per group
  and the group claims its members' jobs together (issue 13, P4); each stays a job of its own.
  It keeps at most `window` of its orders in the sync at once (enough to fill QBO batches);
  two companies' bulk syncs interleave in the lane. An order changed since the preview is
  synced at its current version; the progress counts those.
- References before the documents that need them: the preview notes the customers, products
  and vendors the selection needs that QBO does not hold yet, each with the first document (in
  the run's order) that needs it. The run hands those to the sync first, as their own jobs in
  the bulk lane with trigger `bulk_sync` (which lets a name-list job create its record: looked
  up by name first, B1, then created in batches), in the order the documents need them, ahead
  of the documents in the lane (priority); a document goes only once every reference of the
  run needed by a document up to it is settled, so it finds its references in the ledger and
  sends only its own writes. The first documents thus go while later references are still
  being created, and take the lane's slots the references free. The phase is a committed
  column, so a run resumed after a kill goes on in the phase it was in, and where a document
  may go is read anew at each step.
- Progress (per planned outcome: waiting, in the sync, synced, skipped, failed) is read from
  the items and the ledger; the cursor is a committed column. A killed worker loses at most
  the step it was in: the next step (any worker; `resume` re-starts the loop of every active
  bulk sync) continues from the cursor, and each order's job is retried by the queue.
- Cancel stops handing orders over at the next step; orders already in the sync finish their
  own job (each is a whole reconciliation), so nothing is left half-written.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from rentsync import policy
from rentsync.domain import bulk as plan_rules
from rentsync.domain.bulk import BulkKind, Plan, Planned, Progress, Selection, Standing, State
from rentsync.domain.documents import DocumentType, Order
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.settings import SyncSettings
from rentsync.domain.triggers import Trigger
from rentsync.mapping import invoice as invoice_mapping
from rentsync.mapping.errors import MappingError
from rentsync.qbo import errors
from rentsync.store.bulk_syncs import (
    PAYMENT_PARTS,
    BulkSyncRepository,
    BulkSyncRow,
    Candidate,
    Follower,
    PlannedItem,
    PreviewsPreparing,
    selection_of,
)
from rentsync.store.locks import AdvisoryLocks
from rentsync.sync.kinds import KINDS, kind_for
from rentsync.sync.kinds.invoice import tax_code_of
from rentsync.sync.ports import (
    CompanyQbo,
    CompanySettings,
    Documents,
    Ledger,
    QboAccess,
    StoredDocumentView,
)
from rentsync.sync.references import ReferenceContext, References

log = logging.getLogger(__name__)

PREVIEW_CHUNK = 200
"""Orders planned per preview step (one round trip each for them, their references, ledger
rows and payments)."""
WINDOW = 80
"""A bulk sync's documents in the sync at once (`bootstrap` makes it twice the bulk lane's
concurrency): the lane always finds its next jobs waiting, so enough creates meet within the
batch linger to fill QBO batches of 30. Real-time jobs never wait for them: bulk jobs run in
their own lane (`jobs.BULK_LANE`), with their own slots."""

BATCH_LINGER_SECONDS = plan_rules.BATCH_LINGER_SECONDS
"""How long the first create (or look-up) of a batch waits for others in a bulk run: 1.5 s.
QBO allows a realm 40 batches a minute, one per 1.5 s, so waiting that long for a batch to fill
costs no throughput while batches are the binding budget, and a batch sent with few items
wastes it; the bulk lane's jobs reach their creates spread over a second or more on a busy
machine (each fetches its job and reads the database first). A full batch (30) goes at once."""


class BulkSyncRefused(Exception):
    """A bulk sync cannot be created, started or cancelled now; the message says why, and
    what to do when there is something to do (`remedy`, also at the end of `str()`, which the
    CLI and console print; the API gives `message` and `remedy` apart)."""

    def __init__(self, message: str, *, remedy: str | None = None) -> None:
        super().__init__(f"{message} {remedy}" if remedy else message)
        self.message = message
        self.remedy = remedy


class TooManyPreviews(BulkSyncRefused):
    """`domain.bulk.PREVIEWS_PREPARING_AT_ONCE` of the company's previews are being prepared."""


class NoSuchBulkSync(BulkSyncRefused):
    pass


@dataclass(frozen=True, kw_only=True)
class Report:
    """A bulk sync as the API and the CLI show it: its row, the plan's cost and the progress."""

    bulk: BulkSyncRow
    progress: Progress
    estimated: timedelta
    calls: int
    """The QBO requests the run will send (batches and singles: `domain.bulk.estimate`)."""
    ceiling: str
    references: int = 0
    """Customers and products QuickBooks lacked at the preview, synced before the orders that
    need them."""
    references_settled: int = 0

    def planned(self, outcome: Planned) -> int:
        return self.bulk.planned.get(outcome.value, 0)


@dataclass(frozen=True, kw_only=True)
class _Facts:
    """What planning needs about the company, read once per step."""

    company_id: int
    company: CompanyQbo
    settings: SyncSettings
    tax_rate_ids: frozenset[str]


class BulkSyncs:
    def __init__(
        self,
        *,
        repository: BulkSyncRepository,
        documents: Documents,
        ledger: Ledger,
        settings: CompanySettings,
        qbo: QboAccess,
        references: References,
        locks: AdvisoryLocks,
        window: int = WINDOW,
        slots: int = WINDOW // 2,
        preview_chunk: int = PREVIEW_CHUNK,
        poll_seconds: float = 0.2,
        group_size: int = 0,
        requests_per_minute: int = plan_rules.REQUESTS_PER_MINUTE,
    ) -> None:
        self.repository = repository
        self._documents = documents
        self._ledger = ledger
        self._settings = settings
        self._qbo = qbo
        self._references = references
        self._locks = locks
        self._window = window
        self._slots = slots
        self._chunk = preview_chunk
        self._poll = poll_seconds
        self._group_size = group_size
        self._per_minute = requests_per_minute

    async def create(
        self, company_id: int, selection: Selection, *, start_when_previewed: bool
    ) -> BulkSyncRow:
        """A new bulk sync, to be previewed (by `run`); refused while QuickBooks is not
        connected (every order would only be skipped) and while the company has as many
        previews being prepared as it may."""
        company = await self._qbo.open(company_id)
        refusal = plan_rules.connection_refusal(
            company.connection, company_id=company_id, lost_reason=company.lost_reason
        )
        if refusal is not None:
            raise BulkSyncRefused(refusal.message, remedy=refusal.remedy)
        try:
            return await self.repository.create(
                company_id,
                selection,
                start_when_previewed=start_when_previewed,
                preparing_at_most=plan_rules.PREVIEWS_PREPARING_AT_ONCE,
            )
        except PreviewsPreparing as exc:
            refusal = plan_rules.previews_refusal(exc.preparing)
            raise TooManyPreviews(refusal.message, remedy=refusal.remedy) from None

    async def start(self, company_id: int, bulk_id: int) -> BulkSyncRow:
        """The user confirms the preview; only a previewed bulk sync starts."""
        started = await self.repository.start(company_id, bulk_id)
        if started is not None:
            return started
        current = await self._current(company_id, bulk_id)
        raise BulkSyncRefused(
            f"Bulk sync {bulk_id} is {current.state}: only a previewed one starts."
        )

    async def cancel(self, company_id: int, bulk_id: int) -> BulkSyncRow:
        """No more orders are handed to the sync; those in it finish their own sync."""
        cancelled = await self.repository.cancel(company_id, bulk_id)
        if cancelled is not None:
            return cancelled
        current = await self._current(company_id, bulk_id)
        raise BulkSyncRefused(f"Bulk sync {bulk_id} has already ended ({current.state}).")

    async def _current(self, company_id: int, bulk_id: int) -> BulkSyncRow:
        current = await self.repository.get(bulk_id, company_id=company_id)
        if current is None:
            raise NoSuchBulkSync(f"Company {company_id} has no bulk sync {bulk_id}.")
        return current

    async def report(self, bulk: BulkSyncRow) -> Report:
        counts = await self.repository.outcomes(bulk.id)
        references, references_settled = await self.repository.reference_progress(bulk)
        handed = sum(n for plan, n in bulk.planned.items() if plan != Planned.SKIP)
        cost = plan_rules.estimate(
            batched=bulk.batched_operations,
            singles=bulk.single_operations,
            references=references,
            requests_per_minute=self._per_minute,
            chains=plan_rules.Chains(
                documents=handed,
                groups=bulk.groups,
                longest=plan_rules.BulkCost(
                    batched=bulk.longest_batched, single=bulk.longest_single
                ),
            ),
            slots=self._slots,
            window=self._window,
        )
        return Report(
            references=references,
            references_settled=references_settled,
            bulk=bulk,
            progress=plan_rules.progress_of(
                [(c.planned, c.outcome, c.count, c.changed) for c in counts]
            ),
            estimated=cost.duration,
            calls=cost.requests,
            ceiling=plan_rules.ceiling_text(self._per_minute),
        )

    async def run(self, bulk_id: int) -> None:
        """Step the bulk sync until it is previewed, done or cancelled. One loop per bulk sync
        across all processes (an advisory lock): a second call returns at once."""
        async with self._locks.try_hold(f"bulk-sync:{bulk_id}") as held:
            if not held:
                return
            while await self.step(bulk_id):
                pass

    async def step(self, bulk_id: int) -> bool:
        """One bounded step; False when there is nothing more to do now."""
        bulk = await self.repository.get(bulk_id)
        if bulk is None:
            return False
        if bulk.state == State.PREVIEWING:
            await self._preview_chunk(bulk)
            return True
        if bulk.state == State.RUNNING:
            deferred = await self.repository.dispatch(
                bulk, window=self._window, group_size=self._group_size
            )
            if deferred == 0:
                await asyncio.sleep(self._poll)
            return True
        return False

    async def _preview_chunk(self, bulk: BulkSyncRow) -> None:
        """One step of the preview: the orders (each with its payments, refunds and voids),
        then the documents selected on their own (the vendor side), a chunk at a time."""
        selection = selection_of(bulk)
        facts = await self._facts(bulk.company_id)
        walked = _walked_kinds(selection)
        if bulk.preview_stage == STAGE_WALKED:
            await self._preview_walked(bulk, selection, walked, facts)
            return
        candidates = await self.repository.candidates(bulk, selection, limit=self._chunk)
        plans, references = await self._plan(bulk, selection, candidates, facts)
        done = len(candidates) < self._chunk
        await self.repository.add_preview_chunk(
            bulk,
            plans,
            references=references,
            reference_calls=plan_rules.REFERENCE_CALLS,
            after=candidates[-1].source_id if candidates else bulk.preview_after,
            last=done and not walked,
            next_stage=STAGE_WALKED if done and walked else None,
        )

    async def _preview_walked(
        self,
        bulk: BulkSyncRow,
        selection: Selection,
        kinds: Mapping[DocumentType, plan_rules.SelectBy],
        facts: _Facts,
    ) -> None:
        """Plan a chunk of the documents selected on their own (purchase orders, bills, vendor
        payments), a vendor's together, each after what it depends on (a bill after its
        purchase order, a payment after its bills), with the vendor and products they need."""
        company_id = facts.company_id
        found = await self.repository.walked(bulk, selection, kinds, limit=self._chunk)
        keyed = [(DocumentKey(company_id, d.key_type, d.source_id), d) for d in found]
        chunk = {key for key, _ in keyed}
        needs = sorted(
            {
                dep
                for key, doc in keyed
                for dep in _rule(key.doc_type).depends_on(key, doc.body)
                if dep not in chunk
            },
            key=_sort_key,
        )
        earlier = await self.repository.planned_in_run(bulk.id, needs)
        group = _Group(
            facts,
            {
                key: _standing(key, row.body, row)
                for row in await self.repository.standing(company_id, needs)
                for key in [DocumentKey(company_id, row.key_type, row.source_id)]
            },
            {DocumentKey(company_id, DocumentType(t), i): p for (t, i), p in earlier.items()},
        )
        reference_keys = sorted(
            {ref for key, doc in keyed for ref in _rule(key.doc_type).references(key, doc.body)},
            key=_sort_key,
        )
        snapshots = await self._documents.get_many(reference_keys)
        rows = await self._ledger.get_many(reference_keys)
        in_qbo = {key for key, row in rows.items() if row.qbo_id}
        items: list[PlannedItem] = []
        to_create: dict[DocumentKey, int] = {}
        for key, doc in keyed:
            group.standings[key] = _standing(key, doc.body, doc)
            plan = group.plan(key)
            if plan.planned in (Planned.CREATE, Planned.UPDATE):
                needed = _rule(key.doc_type).references(key, doc.body)
                try:
                    for ref in needed:
                        self._references.present(ref, snapshots.get(ref))
                except MappingError as exc:
                    plan = Plan(planned=Planned.FAIL, reason=exc.code, message=str(exc))
                    group.plans[key] = plan
                else:
                    for ref in needed:
                        if ref not in in_qbo:
                            to_create.setdefault(ref, len(items) + 1)
            items.append(
                PlannedItem(
                    source_id=doc.source_id,
                    revision=doc.revision,
                    plan=plan,
                    doc_type=key.doc_type,
                    lock=doc.job_lock or key.lock(),
                )
            )
        order = list(kinds)
        last = found[-1] if found else None
        await self.repository.add_preview_chunk(
            bulk,
            items,
            references=_in_order(to_create),
            reference_calls=plan_rules.REFERENCE_CALLS,
            after=(
                json.dumps([last.job_lock or "", order.index(last.key_type), last.source_id])
                if last is not None
                else bulk.preview_after
            ),
            last=len(found) < self._chunk,
        )

    async def _facts(self, company_id: int) -> _Facts:
        rates = await self._settings.tax_rates(company_id)
        return _Facts(
            company_id=company_id,
            company=await self._qbo.open(company_id),
            settings=await self._settings.get(company_id),
            tax_rate_ids=frozenset(str(rate.qbo_id) for rate in rates),
        )

    async def _plan(
        self,
        bulk: BulkSyncRow,
        selection: Selection,
        candidates: Sequence[Candidate],
        facts: _Facts,
    ) -> tuple[list[PlannedItem], dict[DocumentKey, int]]:
        """Plan a chunk of orders, each followed by its payments (with their refunds and
        voids) when the selection covers them; also the customers and products QuickBooks does
        not hold yet that the chunk's invoices will create, each with the place among the
        chunk's items (from 1) of the first order that needs it."""
        company_id = facts.company_id
        orders: dict[str, Order] = {}
        for c in candidates:
            orders[c.source_id] = Order.model_validate(c.body)
            # A chunk is 200 orders of CPU work: let a worker running both lanes on this
            # event loop fetch and run real-time jobs in between (B9).
            await asyncio.sleep(0)
        paid = await self.repository.orders_with_payments(
            company_id,
            [
                _order_key(company_id, c.source_id).lock()
                for c in candidates
                if policy.needs_payment_fact(orders[c.source_id], facts.settings)
            ],
        )
        reference_keys = sorted(
            {key for order in orders.values() for key in _references_of(company_id, order)},
            key=_sort_key,
        )
        snapshots = await self._documents.get_many(reference_keys)
        rows = await self._ledger.get_many(reference_keys)
        in_qbo = {key for key, row in rows.items() if row.qbo_id}
        followers: dict[str, list[Follower]] = {}
        if selection.covers(BulkKind.PAYMENT):
            for follower in await self.repository.followers(
                company_id,
                [_order_key(company_id, c.source_id).lock() for c in candidates],
                PAYMENT_PARTS,
            ):
                followers.setdefault(str(follower.job_lock), []).append(follower)
        items: list[PlannedItem] = []
        to_create: dict[DocumentKey, int] = {}
        for candidate in candidates:
            order = orders[candidate.source_id]
            key = _order_key(company_id, candidate.source_id)
            if key.lock() in paid:
                order = order.model_copy(update={"has_payment": True})
            group = _Group(
                facts,
                {key: _standing(key, candidate.body, candidate)},
                {},
            )
            if _selects_order(selection, order, candidate):
                plan = self._plan_one(candidate, order, facts, snapshots)
                group.plans[key] = plan
                if plan.planned in (Planned.CREATE, Planned.UPDATE):
                    for ref in _references_of(company_id, order):
                        if ref not in in_qbo and ref in snapshots:
                            to_create.setdefault(ref, len(items) + 1)
                items.append(
                    PlannedItem(
                        source_id=candidate.source_id,
                        revision=candidate.revision,
                        plan=plan,
                        lock=key.lock(),
                        counted_as=order.kind.value,
                    )
                )
            for follower in followers.get(key.lock(), []):
                follower_key = DocumentKey(company_id, follower.key_type, follower.source_id)
                group.standings[follower_key] = _standing(follower_key, follower.body, follower)
                if selection.not_in_qbo and follower.qbo_id is not None:
                    continue
                plan = group.plan(follower_key)
                items.append(
                    PlannedItem(
                        source_id=follower.source_id,
                        revision=follower.revision,
                        plan=plan,
                        doc_type=follower.key_type,
                        lock=key.lock(),
                    )
                )
            await asyncio.sleep(0)
        return items, _in_order(to_create)

    def _plan_one(
        self,
        candidate: Candidate,
        order: Order,
        facts: _Facts,
        snapshots: Mapping[DocumentKey, StoredDocumentView],
    ) -> Plan:
        decision = policy.decide(
            order,
            facts.settings,
            facts.company.connection,
            trigger=Trigger.BULK_SYNC,
            first_seen_at=candidate.first_seen_at,
            last_user_action_at=candidate.last_user_action_at,
            in_qbo=candidate.qbo_id is not None,
        )
        if isinstance(decision, policy.Skip):
            return Plan(
                planned=Planned.SKIP, reason=decision.reason.value, message=decision.message
            )
        if (
            candidate.qbo_id is not None
            and candidate.state == "synced"
            and candidate.synced_revision == candidate.revision
        ):
            return plan_rules.up_to_date(kind_for(DocumentType.ORDER).listing.title)
        try:
            self._check(candidate.source_id, order, facts, snapshots)
        except MappingError as exc:
            return Plan(planned=Planned.FAIL, reason=exc.code, message=str(exc))
        planned = Planned.CREATE if candidate.qbo_id is None else Planned.UPDATE
        rule = _rule(DocumentType.ORDER)
        cost = rule.create if candidate.qbo_id is None else rule.update
        return _failing_again(candidate, cost) or Plan(planned=planned, cost=cost)

    def _check(
        self,
        source_id: str,
        order: Order,
        facts: _Facts,
        snapshots: Mapping[DocumentKey, StoredDocumentView],
    ) -> None:
        """Raise the MappingError the sync would record for the order before writing it: its
        products' mapping (plan, accounts), a customer or product never sent, the invoice's
        own mapping (tax). The same functions the sync calls, so the plan cannot drift."""
        company_id = facts.company_id
        client = facts.company.client
        assert client is not None  # connected: the policy skipped the order otherwise
        ctx = ReferenceContext(
            company_id=company_id,
            client=client,
            accounts=facts.settings.accounts,
            inventory_allowed=facts.company.inventory_allowed,
            snapshots=snapshots,
        )
        self._references.check_items(ctx, order.product_ids())
        for key in _references_of(company_id, order):
            self._references.present(key, snapshots.get(key))
        placeholder = "0"  # Ids do not change what the mapping accepts or refuses
        refs = invoice_mapping.InvoiceRefs(
            customer_id=placeholder,
            item_ids=dict.fromkeys(order.product_ids(), placeholder),
            tax_code_id=tax_code_of(order, facts.tax_rate_ids),
            automated_sales_tax=facts.company.automated_sales_tax,
        )
        invoice_mapping.invoice_create(order, refs, key=_order_key(company_id, source_id))


STAGE_WALKED = "vendors"
"""The preview's second stage: the documents selected on their own (`BulkRule.select_by`)."""


def _walked_kinds(selection: Selection) -> dict[DocumentType, plan_rules.SelectBy]:
    """The kinds the selection covers that are selected by their own dates and numbers, in
    the order a vendor's documents are sent: `BulkKind`'s, where a kind comes after those it
    depends on (purchase orders, bills, payments)."""
    chosen = [
        (list(BulkKind).index(spec.bulk.selected_as), spec.doc_type, spec.bulk.select_by)
        for spec in KINDS
        if spec.bulk is not None
        and spec.bulk.select_by is not None
        and selection.covers(spec.bulk.selected_as)
    ]
    return {doc_type: select_by for _, doc_type, select_by in sorted(chosen)}


def _rule(doc_type: DocumentType) -> plan_rules.BulkRule:
    rule = kind_for(doc_type).bulk
    assert rule is not None, f"{doc_type.value} has no bulk rule"
    return rule


class _Row(Protocol):
    @property
    def revision(self) -> int: ...
    @property
    def qbo_id(self) -> str | None: ...
    @property
    def state(self) -> str | None: ...
    @property
    def synced_revision(self) -> int | None: ...
    @property
    def error(self) -> Mapping[str, Any] | None: ...
    @property
    def requested_revision(self) -> int | None: ...


def _standing(key: DocumentKey, body: dict[str, Any] | None, row: _Row) -> Standing:
    return Standing(
        key=key,
        body=body,
        revision=row.revision,
        qbo_id=row.qbo_id,
        state=row.state,
        synced_revision=row.synced_revision,
        error=row.error,
        requested_revision=row.requested_revision,
    )


def _selects_order(selection: Selection, order: Order, candidate: Candidate) -> bool:
    """Whether the order's own invoice is selected (not only its payments)."""
    if not selection.covers(plan_rules.BulkKind(order.kind.value)):
        return False
    return not (selection.not_in_qbo and candidate.qbo_id is not None)


@dataclass
class _Group:
    """The documents of one lock planned together, in the run's order: what each will be
    when the next one's job runs (in QuickBooks already, or written by this run first)."""

    facts: _Facts
    standings: dict[DocumentKey, Standing]
    plans: dict[DocumentKey, Plan]

    def ready(self, key: DocumentKey) -> str | None:
        plan = self.plans.get(key)
        standing = self.standings.get(key)
        if plan is not None and plan.planned in (Planned.CREATE, Planned.UPDATE):
            return None
        if plan is not None and plan.reason != plan_rules.UP_TO_DATE:
            verb = "failing" if plan.planned is Planned.FAIL else "skipped"
            return f"{verb} in this bulk sync ({plan.reason})"
        if standing is None:
            return "not received"
        if standing.qbo_id is not None:
            return None
        return standing.state or "not sent yet"

    def plan(self, key: DocumentKey) -> Plan:
        """A document's plan by its kind's rule, as its job would decide; recorded for the
        documents after it."""
        standing = self.standings[key]
        rule = _rule(key.doc_type)
        found = rule.plan(
            plan_rules.Facts(
                document=standing,
                connection=self.facts.company.connection,
                settings=self.facts.settings,
                qbo_plan=self.facts.company.plan,
                others=self.standings,
                ready=self.ready,
            )
        )
        up_to_date = (
            standing.qbo_id is not None
            and standing.state == "synced"
            and standing.synced_revision == standing.revision
        )
        if up_to_date and (found is None or found.planned in (Planned.CREATE, Planned.UPDATE)):
            found = plan_rules.up_to_date(kind_for(key.doc_type).listing.title)
        if found is None:
            created = standing.qbo_id is None
            found = Plan(
                planned=Planned.CREATE if created else Planned.UPDATE,
                cost=rule.create if created else rule.update,
            )
        if found.planned in (Planned.CREATE, Planned.UPDATE):
            found = _failing_again(standing, found.cost) or found
        self.plans[key] = found
        return found


def _failing_again(row: _Row, cost: plan_rules.BulkCost) -> Plan | None:
    """A document whose last attempt, at the revision it has now, failed with a refusal
    QuickBooks gives again to the same request (the error catalogue decides:
    `errors.fails_again`): the run would send it and fail again (B5: seen on the demo's data,
    a duplicate number and a sale before its item's inventory start planned as creates). Any
    change of the document since queued a job for it (pending, not failed)."""
    error = row.error
    if row.state != "failed" or not error or row.requested_revision != row.revision:
        return None
    if not errors.fails_again(str(error.get("category") or "")):
        return None
    message = str(error.get("message") or "")
    detail = str(error.get("detail") or "")
    if detail and detail != message:
        message = f"{message}: {detail}" if message else detail
    return plan_rules.fails_again(
        code=str(error.get("code") or ""),
        message=message,
        remedy=str(error.get("remedy") or ""),
        cost=cost,
    )


def _order_key(company_id: int, source_id: str) -> DocumentKey:
    return DocumentKey(company_id, DocumentType.ORDER, source_id)


def _references_of(company_id: int, order: Order) -> list[DocumentKey]:
    """The customer and products an order's invoice needs in QuickBooks (customer first, as
    the sync resolves them)."""
    return [DocumentKey(company_id, DocumentType.CUSTOMER, order.customer_id)] + [
        DocumentKey(company_id, DocumentType.PRODUCT, product_id)
        for product_id in order.product_ids()
    ]


def _sort_key(key: DocumentKey) -> tuple[str, str]:
    return key.doc_type.value, key.source_id


def _in_order(first_needed: Mapping[DocumentKey, int]) -> dict[DocumentKey, int]:
    """References with the place of the first document needing each, in a stable order."""
    return {key: first_needed[key] for key in sorted(first_needed, key=_sort_key)}
