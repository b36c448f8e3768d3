"""R6 vendor payments, through the public API, a real worker and the QBO emulator: the bill
payment in QBO, its pay type and account, its links and the bills' balances."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rentsync.settings import Settings
from tests.sync_rig import Rig, rig_for
from tests.vendor_fixtures import bill, cents, ready, vendor_payment


async def bill_in_qbo(rig: Rig, bill_id: str = "B-1", number: str = "ACE-1", **kw: Any) -> None:
    await rig.put("vendor-bills", bill_id, bill(number, **kw))
    assert (await rig.settled("vendor-bills", bill_id))["state"] == "synced"


async def balances(rig: Rig) -> dict[str, Decimal]:
    return {b["DocNumber"]: cents(b["Balance"]) for b in await rig.qbo_entities("Bill")}


async def test_r06_a_check_payment_is_a_bill_payment_from_the_bank_linked_to_its_bill(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await bill_in_qbo(rig, amounts=("160.00", "45.00"))
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "205.00"}))
        status = await rig.settled("vendor-payments", "VP-1")
        assert status["state"] == "synced", status
        (qbo_bill,) = await rig.qbo_entities("Bill")
        (paid,) = await rig.qbo_entities("BillPayment")
        (qbo_vendor,) = await rig.qbo_entities("Vendor")
        assert status["qbo"]["id"] == paid["Id"]
        assert paid["VendorRef"]["value"] == qbo_vendor["Id"]
        assert paid["PayType"] == "Check"
        assert paid["CheckPayment"]["BankAccountRef"]["value"] == rig.accounts["bank"]
        assert paid["Line"][0]["LinkedTxn"] == [{"TxnId": qbo_bill["Id"], "TxnType": "Bill"}]
        assert cents(paid["TotalAmt"]) == Decimal("205.00")
        assert paid["DocNumber"] == "CHK-1001"
        assert ":vendor_payment:VP-1]" in paid["PrivateNote"]
        assert await balances(rig) == {"ACE-1": Decimal("0.00")}


async def test_r06_a_card_payment_pays_by_credit_card_and_one_payment_pays_two_bills(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await bill_in_qbo(rig, "B-1", "ACE-1", amounts=("205.00",))
        await bill_in_qbo(rig, "B-2", "ACE-2", amounts=("90.00",))
        await rig.put(
            "vendor-payments",
            "VP-1",
            vendor_payment(
                {"B-1": "100.00", "B-2": "90.00"},
                method="credit_card",
                paid_from_account_id=rig.accounts["card"],
            ),
        )
        status = await rig.settled("vendor-payments", "VP-1")
        assert status["state"] == "synced", status
        (paid,) = await rig.qbo_entities("BillPayment")
        assert paid["PayType"] == "CreditCard"
        assert paid["CreditCardPayment"]["CCAccountRef"]["value"] == rig.accounts["card"]
        assert cents(paid["TotalAmt"]) == Decimal("190.00")
        assert len(paid["Line"]) == 2
        assert await balances(rig) == {"ACE-1": Decimal("105.00"), "ACE-2": Decimal("0.00")}


async def test_r06_a_payment_sent_before_its_bill_waits_and_follows_it(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "60.00"}))
        waiting = await rig.settled("vendor-payments", "VP-1")
        assert waiting["state"] == "skipped", waiting
        assert waiting["skip"]["reason"] == "waiting_for_document"
        assert await rig.qbo_entities("BillPayment") == []
        await bill_in_qbo(rig, amounts=("160.00",))
        paid = await rig.settled("vendor-payments", "VP-1", attempts_after=1)
        assert paid["state"] == "synced", paid
        assert await balances(rig) == {"ACE-1": Decimal("100.00")}


async def test_r06_a_void_voids_the_bill_payment_and_the_bill_balance_comes_back(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await bill_in_qbo(rig, amounts=("160.00",))
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "160.00"}))
        assert (await rig.settled("vendor-payments", "VP-1"))["state"] == "synced"
        assert await balances(rig) == {"ACE-1": Decimal("0.00")}
        voided = vendor_payment({"B-1": "160.00"}, voided=True, version=2)
        response = await rig.put("vendor-payments", "VP-1", voided)
        status = await rig.settled("vendor-payments", "VP-1", revision=response.json()["revision"])
        assert status["state"] == "synced", status
        (paid,) = await rig.qbo_entities("BillPayment")
        assert cents(paid["TotalAmt"]) == Decimal("0.00")
        assert paid["PrivateNote"].startswith("Voided")
        assert await balances(rig) == {"ACE-1": Decimal("160.00")}
        # QBO cannot undo a void: un-voiding fails with the remedy.
        again = vendor_payment({"B-1": "160.00"}, version=3)
        response = await rig.put("vendor-payments", "VP-1", again)
        refused = await rig.settled("vendor-payments", "VP-1", revision=response.json()["revision"])
        assert refused["state"] == "failed", refused
        assert refused["error"]["code"] == "rentsync_payment_voided"


async def test_r06_a_deleted_payment_is_deleted_in_qbo_and_a_paid_bill_cannot_be_deleted(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await bill_in_qbo(rig, amounts=("160.00",))
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "50.00"}))
        assert (await rig.settled("vendor-payments", "VP-1"))["state"] == "synced"
        # R5: a bill paid in QBO that the rental system deletes fails with the remedy.
        deleted = await rig.api.delete("/api/v1/vendor-bills/B-1", headers=rig.headers)
        refused = await rig.settled("vendor-bills", "B-1", revision=deleted.json()["revision"])
        assert refused["state"] == "failed", refused
        assert refused["error"]["code"] == "6220"
        assert "vendor payments" in refused["error"]["remedy"]
        assert len(await rig.qbo_entities("Bill")) == 1
        # Deleting the payment first, then resyncing the bill, removes both.
        gone = await rig.api.delete("/api/v1/vendor-payments/VP-1", headers=rig.headers)
        status = await rig.settled("vendor-payments", "VP-1", revision=gone.json()["revision"])
        assert status["state"] == "synced", status
        assert await rig.qbo_entities("BillPayment") == []
        attempts = len(refused["history"])
        resynced = await rig.api.post("/api/v1/vendor-bills/B-1/resync", headers=rig.headers)
        assert resynced.status_code == 202, resynced.text
        bill_status = await rig.settled("vendor-bills", "B-1", attempts_after=attempts)
        assert bill_status["state"] == "synced", bill_status
        assert await rig.qbo_entities("Bill") == []


async def test_r10_a_payment_from_an_income_account_fails_with_the_remedy(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await ready(rig)
        await bill_in_qbo(rig, amounts=("160.00",))
        await rig.put(
            "vendor-payments",
            "VP-1",
            vendor_payment({"B-1": "60.00"}, paid_from_account_id=rig.accounts["income"]),
        )
        status = await rig.settled("vendor-payments", "VP-1")
        assert status["state"] == "failed", status
        assert status["error"]["code"] == "rentsync_account_unusable"
        assert "Bank or Credit Card" in status["error"]["remedy"]
        assert await rig.qbo_entities("BillPayment") == []


async def test_r06_a_bill_payment_whose_create_answer_was_lost_is_found_not_posted_twice(
    settings: Settings,
) -> None:
    """B1: QBO committed the bill payment but the answer was lost; the retry finds it by its
    vendor and marker and never posts a second one."""
    async with rig_for(settings, settings_overrides={"sync_transient_base_seconds": 0.2}) as rig:
        await ready(rig)
        await bill_in_qbo(rig, amounts=("160.00",))
        await rig.faults({"next": ["drop", "drop", "drop", "drop"]})
        await rig.put("vendor-payments", "VP-1", vendor_payment({"B-1": "60.00"}))
        status = await rig.settled("vendor-payments", "VP-1")
        assert status["state"] == "synced", status
        (paid,) = await rig.qbo_entities("BillPayment")
        assert status["qbo"]["id"] == paid["Id"]
        assert await balances(rig) == {"ACE-1": Decimal("100.00")}
