"""R18/B5: the bulk preview's estimate follows the batched cost model, and the bulk share of
QuickBooks' budget has one home (domain/qbo.py) for the preview and the limiter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rentsync.domain import bulk, qbo
from rentsync.qbo.limits import LimitSettings


def test_r18_the_bulk_share_is_what_the_limiter_leaves_to_background_work() -> None:
    limits = LimitSettings()
    assert bulk.bulk_requests_per_minute() == limits.per_minute - (
        limits.background_headroom_per_minute
    )
    assert bulk.bulk_requests_per_minute() == 440
    for per_minute in (50, 500, 1_000_000):
        scaled = LimitSettings.scaled(per_minute)
        assert bulk.bulk_requests_per_minute(per_minute) == (
            scaled.per_minute - scaled.background_headroom_per_minute
        )
        assert bulk.batches_per_minute(per_minute) == scaled.batch_per_minute
    assert limits.background_keep_free == qbo.REAL_TIME_RESERVE_IN_FLIGHT


def test_r18_the_second_lets_a_bulk_sync_send_its_minute_share() -> None:
    """The limiter's second ring never holds background work below the share the estimate
    plans for (it did: 7 per 1.2 s = 350 a minute for a planned 440)."""
    for per_minute in (50, 500, 1_000_000):
        limits = LimitSettings() if per_minute == 500 else LimitSettings.scaled(per_minute)
        second = next(
            ring for ring in limits.rings(batch=False, background=True) if ring.kind == "second"
        )
        per_minute_from_second = (second.size - second.headroom) / second.window_seconds * 60
        assert per_minute_from_second >= bulk.bulk_requests_per_minute(per_minute)
        assert second.headroom <= qbo.REAL_TIME_RESERVE_PER_SECOND
    assert LimitSettings().background_headroom_per_second == qbo.REAL_TIME_RESERVE_PER_SECOND


def test_r18_a_small_run_sends_one_batch_per_kind_of_operation() -> None:
    cost = bulk.estimate(batched=3, singles=0, references=3)
    assert (cost.operations, cost.requests) == (9, 3)
    # The requests at the bulk share (the minute as the limiter counts it, 62 s: within one
    # minute's budget never slower than that), and the round the invoices wait for their
    # references.
    assert cost.duration == timedelta(seconds=3 / 440 * 62) + bulk.REFERENCE_ROUND


def test_r18_updates_and_lone_operations_go_singly() -> None:
    cost = bulk.estimate(batched=1, singles=5, references=0)
    assert (cost.operations, cost.requests) == (6, 6)


def test_r18_a_full_backfill_costs_batches_then_singles_beside_them() -> None:
    # 5,000 orders over 1,000 customers and 100 products (bench_ceiling's full size).
    cost = bulk.estimate(batched=5_000, singles=0, references=1_100)
    assert cost.operations == 7_200
    # The 1,100 look-ups by name: 37 queries of up to 30 names, sent singly.
    sent = 37 + 1_100 + 5_000
    minutes = sent / 1_600  # 40 batches of 30 and 400 singles a minute
    assert cost.duration.total_seconds() == pytest.approx(minutes * 62, rel=0.02)
    # 20 batches of references (half the minute's), then the other 5,500 creates a quarter
    # single (1,375) and the rest in batches (137.5); 40 batches a minute for 3.84 minutes
    # allow 153.4 in all, so 4.1 batches' worth (123 creates) go singly too.
    batched = 153.4
    singles = 1_375 + (20 + 137.5 - batched) * 30
    assert cost.requests == pytest.approx(37 + batched + singles, abs=1)
    # Far fewer requests than operations, and never more than the bulk share allows per minute.
    assert cost.requests / (cost.duration.total_seconds() / 60) <= 440 + 1


def test_b5_a_run_past_half_the_minutes_batches_is_estimated_with_its_singles() -> None:
    """bench_ceiling's small size (1,000 orders over 200 customers and 20 products) sent 231
    requests (40 batches, 191 singles: 2026-12-06 02:36, e3b0939); the estimate before the
    singles beside batches were modelled said 88."""
    cost = bulk.estimate(batched=1_000, singles=0, references=220)
    # 8 look-ups; 20 batches (8 of the 220 references, 12 of 360 invoices); the other 640
    # invoices a quarter single (160) and the rest in 16 batches.
    assert cost.requests == 8 + 20 + 16 + 160
    assert abs(cost.requests - 231) <= cost.requests * bulk.ESTIMATE_TOLERANCE


def test_b5_the_singles_share_is_the_mix_of_a_minute_at_the_ceiling() -> None:
    assert bulk.singles_share() == pytest.approx(400 / 1_600)
    for per_minute in (100, 500, 1_000_000):
        budget = bulk.bulk_requests_per_minute(per_minute)
        batches = bulk.batches_per_minute(per_minute)
        share = bulk.singles_share(per_minute)
        # A minute's operations at that share use exactly its requests and its batches.
        operations = batches * 30 / (1 - share)
        assert operations * share + batches == pytest.approx(budget)
    assert not bulk.long_run(19) and bulk.long_run(20)


def test_b5_the_first_documents_wait_one_round_for_their_references() -> None:
    """References go to the sync ahead of the documents, in the order the documents need them,
    and a document goes once its own are settled (not once every reference is): the run's time
    is its operations at the ceiling plus the one round its first documents wait for theirs (a
    look-up by name, then the create in a batch after its linger). The estimate before counted
    no wait for references at all."""
    operations_time = (37 + 1_100 + 5_000) / 1_600 * 62  # bench_ceiling's full size
    cost = bulk.estimate(batched=5_000, singles=0, references=1_100)
    round_seconds = bulk.BATCH_LINGER_SECONDS + 2 * bulk.ROUND_TRIP_SECONDS
    assert bulk.BATCH_LINGER_SECONDS == 60 / 40
    assert cost.duration.total_seconds() == pytest.approx(operations_time + round_seconds, abs=0.5)
    # Nothing waits for references a run does not create, nor for those no document needs.
    alone = bulk.estimate(batched=5_000, singles=0, references=0)
    assert alone.duration.total_seconds() == pytest.approx(5_000 / 1_600 * 62, abs=0.5)
    only = bulk.estimate(batched=0, singles=0, references=30)
    # (Within one minute's budget: a look-up and a batch at the second's pace.)
    assert only.duration.total_seconds() == pytest.approx(2 / 6)


ROUND = bulk.BATCH_LINGER_SECONDS + bulk.ROUND_TRIP_SECONDS
"""A batched operation's wait when its batch does not fill: the linger, then the round trip."""


def test_b5_a_small_run_of_paid_orders_takes_its_longest_chain() -> None:
    """bench_backfill with payments (20 orders, each paid, every third refunded in part; QBO's
    limits, 150 ms; 2026-12-06 09:32, load 1.6): 8 s estimated, 14 s run. The ceiling did not
    bind: a payment waits under its order's lock for the order's invoice, its refund for it,
    each of their batched operations through a batch's linger."""
    batched, singles = 20 + 2 * 20 + 7, 20 + 2 * 7  # invoices; payments; refunds
    chains = bulk.Chains(documents=47, groups=20, longest=bulk.BulkCost(batched=4, single=3))
    cost = bulk.estimate(batched=batched, singles=singles, references=15, chains=chains)
    longest = 4 * ROUND + 3 * bulk.ROUND_TRIP_SECONDS
    assert longest == bulk.chain_seconds(chains.longest)
    assert cost.duration.total_seconds() == pytest.approx(
        longest + bulk.REFERENCE_ROUND.total_seconds()
    )
    at_the_ceiling = bulk.estimate(batched=batched, singles=singles, references=15)
    assert at_the_ceiling.duration.total_seconds() == pytest.approx(8, abs=0.5)
    ran = 14.0
    assert abs(cost.duration.total_seconds() - ran) / ran <= 0.2
    assert abs(at_the_ceiling.duration.total_seconds() - ran) / ran > 0.4
    assert cost.requests == at_the_ceiling.requests, "the chains change the time only"


def test_b5_a_large_run_of_paid_orders_is_held_by_the_ceiling() -> None:
    """The same bench at 300 orders: 93 s estimated, 89 s run; the chains (34 locks side by
    side) take less than the ceiling's time, so the estimate stays the ceiling's."""
    batched, singles = 300 + 2 * 300 + 100, 300 + 2 * 100
    chains = bulk.Chains(documents=700, groups=300, longest=bulk.BulkCost(batched=4, single=3))
    cost = bulk.estimate(batched=batched, singles=singles, references=15, chains=chains)
    at_the_ceiling = bulk.estimate(batched=batched, singles=singles, references=15)
    assert cost.duration == at_the_ceiling.duration
    assert bulk.in_flight(chains, slots=40, window=80) == pytest.approx(80 * 300 / 700)


def test_b5_long_locks_share_the_run_among_the_few_in_flight() -> None:
    """Ten vendors with ten bills each: the window (80 documents) holds 8 vendors' documents,
    so 8 chains run side by side, whatever the lane's slots."""
    chains = bulk.Chains(documents=100, groups=10, longest=bulk.BulkCost(batched=10))
    cost = bulk.estimate(batched=100, singles=0, references=0, chains=chains)
    assert bulk.in_flight(chains, slots=40, window=80) == 8
    assert cost.duration.total_seconds() == pytest.approx(100 * ROUND / 8)
    # A wider window: all ten side by side, never more chains than locks.
    wider = bulk.estimate(batched=100, singles=0, references=0, chains=chains, window=800)
    assert bulk.in_flight(chains, slots=40, window=800) == 10
    assert wider.duration.total_seconds() == pytest.approx(bulk.chain_seconds(chains.longest))


def test_b5_enough_chains_side_by_side_fill_their_batches_at_once() -> None:
    """bench_backfill, 300 orders (no payments; QBO's limits, 150 ms; 09:37, load 1.5): 6 s
    run. 40 invoices in flight fill a batch of 30 at once, so none waits for a linger
    (counting a linger for each said 18 s): each invoice is one round trip, 40 at a time."""
    chains = bulk.Chains(documents=300, groups=300, longest=bulk.BulkCost(batched=1))
    cost = bulk.estimate(batched=300, singles=0, references=15, chains=chains)
    assert bulk.in_flight(chains, slots=40, window=80) == 40
    assert bulk.chain_seconds(chains.longest, side_by_side=40) == bulk.ROUND_TRIP_SECONDS
    all_chains = 300 * bulk.ROUND_TRIP_SECONDS / 40
    assert cost.duration.total_seconds() == pytest.approx(
        all_chains + bulk.REFERENCE_ROUND.total_seconds()
    )


def test_b5_a_run_within_one_minutes_budget_is_not_held_by_the_minute() -> None:
    """bench_backfill, 300 unpaid orders over 15 references (QBO's limits, 150 ms; 09:37, load
    1.5): 15 s estimated, 6 s run. The estimate spread the run's 315 creates over the minute
    at 1,600 operations a minute; but they take 12 requests (a look-up, 11 batches), well
    within the minute's 440 and 40 batches, and QBO takes those as they come: the minute holds
    nothing back, only the second's pace (9 per 1 s + a round trip) does."""
    chains = bulk.Chains(documents=300, groups=300, longest=bulk.BulkCost(batched=1))
    cost = bulk.estimate(batched=300, singles=0, references=15, chains=chains)
    assert cost.requests == 1 + 1 + 10
    assert bulk.bulk_requests_per_second() == pytest.approx(9 / 1.5)
    ran = 6.0
    assert abs(cost.duration.total_seconds() - ran) / ran <= 0.2, cost.duration
    # Without the chains, the requests at the second's pace: 2 s, not the minute's 12 s.
    alone = bulk.estimate(batched=300, singles=0, references=15)
    assert alone.duration.total_seconds() == pytest.approx(12 / 6 + 2.5)


def test_b5_a_run_within_one_minutes_budget_past_half_its_batches() -> None:
    """bench_ceiling's small size (1,000 orders over 200 customers and 20 products; QBO's
    limits, 150 ms; 2026-12-06 12:14, load 6): 35 s run, 216 requests (39 batches, 177
    singles beside them), so within one minute's budget too; the minute's rate said 50 s."""
    cost = bulk.estimate(batched=1_000, singles=0, references=220)
    assert cost.requests == 204
    ran = 35.0
    assert abs(cost.duration.total_seconds() - ran) / ran <= 0.2, cost.duration
    assert cost.duration.total_seconds() == pytest.approx(204 / 6 + 2.5)


def test_b5_the_minute_binds_from_its_budget_on_without_a_jump() -> None:
    """Past 440 requests (or 40 batches) the minute's rate holds, as for bench_ceiling's full
    size (above); at the budget's edge the two agree, never faster beyond it than within."""
    within = bulk.estimate(batched=0, singles=440, references=0)
    beyond = bulk.estimate(batched=0, singles=441, references=0)
    assert within.duration.total_seconds() == pytest.approx(440 / 440 * 62)
    assert beyond.duration.total_seconds() == pytest.approx(441 / 440 * 62)
    # A singles-heavy short run: the second's pace is slower than the minute's rate there,
    # and the estimate keeps the minute's (bench_backfill, 60 paid orders: 18 s, 20-21 s run).
    paid = bulk.estimate(batched=200, singles=100, references=15)
    assert paid.requests == 109
    assert paid.duration.total_seconds() == pytest.approx(109 / 440 * 62 + 2.5)


@pytest.mark.parametrize("per_minute", [1, 49, 75, 500, 1234, 1_000_000])
def test_r18_the_estimate_scales_a_minute_as_the_limiter_does(per_minute: int) -> None:
    """One home for the emulator-minute scaling (`domain.qbo.scaled_rate`): the estimate's
    second and batches are the limiter's for any minute, so the preview never plans a pace
    the limiter would not let through."""
    limits = LimitSettings.scaled(per_minute)
    assert bulk.batches_per_minute(per_minute) == limits.batch_per_minute
    share = max(limits.per_second - limits.background_headroom_per_second, 1)
    assert bulk.bulk_requests_per_second(per_minute) == share / (1 + bulk.ROUND_TRIP_SECONDS)
    assert limits.per_second == qbo.scaled_rate(qbo.IN_FLIGHT, per_minute) >= 1
    assert limits.realm_batch_per_minute == qbo.scaled_rate(
        qbo.REALM_BATCHES_PER_MINUTE, per_minute
    )


def test_r18_one_naming_table_names_the_selected_and_the_counted_kinds() -> None:
    """`domain.bulk.KIND_NAMES` names every kind a user selects (the form's labels) and every
    kind a preview counts (the CLI's and the console's "by kind")."""
    assert {kind.value for kind in bulk.BulkKind} <= set(bulk.KIND_NAMES)
    assert bulk.BulkKind.PAYMENT.label == "Payments (with their refunds and voids)"
    assert bulk.BulkKind.PURCHASE_ORDER.label == "Purchase orders"
    assert bulk.kinds_text({"payment_void": 2, "order": 1, "odd_kind": 3}) == (
        "1 order, 2 payments' voids, 3 odd kind"
    )
    assert list(bulk.by_kind({"refund": 1, "payment": 2, "quote": 0})) == ["payment", "refund"]
