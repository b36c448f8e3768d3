"""R4, R11, R12 payments: collected, credit applied, refunded, voided, through the public API, a
real worker and the QBO emulator. Each test compares QBO's figures with the rental system's:
the invoice's Balance, the customer's balance and the deposit account's net receipts.

The emulator keeps no Customer.Balance or Account.CurrentBalance, so those two are computed from
QBO's documents as QuickBooks' own reports add them up: the customer's balance is its open
invoices less its open credit and unapplied payments; the deposit account's receipts are the
payments deposited to it less the refund receipts paid out of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for


def payment(
    order_id: str,
    amount: str,
    *,
    method: str | None = "card",
    refunds: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "amount": amount,
        "date": "2026-11-21",
        "method": method,
        "reference_number": "AUTH-1",
        "refunds": refunds or [],
    }
    body.update(overrides)
    return body


def refund(refund_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": refund_id,
        "amount": amount,
        "date": "2026-11-25",
        "method": "card",
        "reason": "Returned unused",
        **overrides,
    }


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


async def figures(rig: Rig, deposit_account: str) -> dict[str, Decimal]:
    """QBO's figures: every invoice's Balance summed, the customer's balance, the deposit
    account's net receipts, income less refunds."""
    invoices = await rig.qbo_entities("Invoice")
    memos = await rig.qbo_entities("CreditMemo")
    payments = await rig.qbo_entities("Payment")
    receipts = await rig.qbo_entities("RefundReceipt")
    deposited = sum(
        (
            cents(p["TotalAmt"])
            for p in payments
            if p["DepositToAccountRef"]["value"] == deposit_account
        ),
        Decimal(0),
    )
    refunded = sum(
        (
            cents(r["TotalAmt"])
            for r in receipts
            if r["DepositToAccountRef"]["value"] == deposit_account
        ),
        Decimal(0),
    )
    return {
        "invoice_balance": sum((cents(i["Balance"]) for i in invoices), Decimal(0)),
        "customer_balance": sum((cents(i["Balance"]) for i in invoices), Decimal(0))
        - sum((cents(m["Balance"]) for m in memos), Decimal(0))
        - sum((cents(p.get("UnappliedAmt")) for p in payments), Decimal(0)),
        "deposit": deposited - refunded,
        "income": sum((cents(i["TotalAmt"]) for i in invoices), Decimal(0))
        - sum((cents(r["TotalAmt"]) for r in receipts), Decimal(0)),
    }


async def sync_mode(rig: Rig, mode: str) -> None:
    current = (await rig.api.get("/api/v1/settings", headers=rig.headers)).json()
    saved = await rig.api.put(
        "/api/v1/settings", json={**current, "sync_mode": mode}, headers=rig.headers
    )
    assert saved.status_code == 200, saved.text


async def order_in_qbo(rig: Rig, order_id: str = "O-1", number: str = "3001", **kw: Any) -> None:
    await rig.ready_with_catalogue()
    await rig.put("orders", order_id, make.order(number, **kw))
    assert (await rig.settled("orders", order_id))["state"] == "synced"


async def settled_payment(rig: Rig, payment_id: str, revision: int | None = None) -> dict[str, Any]:
    return await rig.settled("payments", payment_id, revision=revision)


async def test_r04_a_collected_payment_is_a_qbo_payment_applied_to_the_invoice(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("payments", "PAY-1", payment("O-1", "200.00", method="check"))
        status = await settled_payment(rig, "PAY-1")
        assert status["state"] == "synced", status
        (invoice,) = await rig.qbo_entities("Invoice")
        (paid,) = await rig.qbo_entities("Payment")
        assert paid["Line"][0]["LinkedTxn"] == [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
        assert paid["DepositToAccountRef"]["value"] == rig.accounts["undeposited"]
        assert paid["PaymentRefNum"] == "AUTH-1"
        methods = {m["Id"]: m["Name"] for m in await rig.qbo_entities("PaymentMethod")}
        assert methods[paid["PaymentMethodRef"]["value"]] == "Check"
        assert ":payment:PAY-1]" in paid["PrivateNote"]
        assert status["qbo"]["id"] == paid["Id"]
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("250.00")  # 450 - 200
        assert got["customer_balance"] == Decimal("250.00")
        assert got["deposit"] == Decimal("200.00")


async def test_r04_a_payment_is_deposited_to_the_mapped_account_with_a_method_created_once(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.map_accounts(deposit=rig.accounts["bank"])
        await rig.put("payments", "PAY-1", payment("O-1", "100.00", method="ach"))
        await rig.put("payments", "PAY-2", payment("O-1", "50.00", method="ach"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        assert (await settled_payment(rig, "PAY-2"))["state"] == "synced"
        payments = await rig.qbo_entities("Payment")
        assert {p["DepositToAccountRef"]["value"] for p in payments} == {rig.accounts["bank"]}
        ach = [m for m in await rig.qbo_entities("PaymentMethod") if m["Name"] == "ACH"]
        assert len(ach) == 1
        assert {p["PaymentMethodRef"]["value"] for p in payments} == {ach[0]["Id"]}
        got = await figures(rig, rig.accounts["bank"])
        assert got["invoice_balance"] == Decimal("300.00")
        assert got["deposit"] == Decimal("150.00")


async def test_r04_a_payment_sent_before_its_order_waits_for_the_invoice(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await rig.put("payments", "PAY-1", payment("O-1", "450.00"))
        waiting = await settled_payment(rig, "PAY-1")
        assert waiting["state"] == "skipped", waiting
        assert waiting["skip"]["reason"] == "invoice_not_in_qbo"
        assert await rig.qbo_entities("Payment") == []
        await rig.put("orders", "O-1", make.order("3002"))
        assert (await rig.settled("orders", "O-1"))["state"] == "synced"
        done = await rig.settled("payments", "PAY-1", attempts_after=1)
        assert done["state"] == "synced", done
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("0.00")
        assert got["customer_balance"] == Decimal("0.00")


async def test_r04_a_void_voids_the_qbo_payment_and_the_balance_comes_back(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("payments", "PAY-1", payment("O-1", "200.00"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        voided = await rig.put("payments", "PAY-1", payment("O-1", "200.00", voided=True))
        await settled_payment(rig, "PAY-1", revision=voided.json()["revision"])
        status = await rig.settled("payment-voids", "PAY-1")
        assert status["state"] == "synced", status
        (paid,) = await rig.qbo_entities("Payment")
        assert cents(paid["TotalAmt"]) == 0 and paid["PrivateNote"].startswith("Voided")
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("450.00")
        assert got["customer_balance"] == Decimal("450.00")
        assert got["deposit"] == Decimal("0.00")


async def test_r04_partial_and_several_refunds_are_refund_receipts_from_the_deposit_account(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("payments", "PAY-1", payment("O-1", "450.00"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        await rig.put(
            "payments", "PAY-1", payment("O-1", "450.00", refunds=[refund("RF-1", "50.00")])
        )
        assert (await rig.settled("refunds", "PAY-1/RF-1"))["state"] == "synced"
        refunds = [refund("RF-1", "50.00"), refund("RF-2", "400.00", method="check")]
        await rig.put("payments", "PAY-1", payment("O-1", "450.00", refunds=refunds))
        status = await rig.settled("refunds", "PAY-1/RF-2")
        assert status["state"] == "synced", status
        receipts = await rig.qbo_entities("RefundReceipt")
        assert sorted(cents(r["TotalAmt"]) for r in receipts) == [
            Decimal("50.00"),
            Decimal("400.00"),
        ]
        assert all(":refund:PAY-1/" in r["PrivateNote"] for r in receipts)
        assert all("payment PAY-1" in r["Line"][0]["Description"] for r in receipts)
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("0.00")  # paid; the refund reverses income
        assert got["customer_balance"] == Decimal("0.00")
        assert got["deposit"] == Decimal("0.00")  # 450 in, 450 out
        assert got["income"] == Decimal("0.00")


async def test_r04_a_void_of_a_refunded_payment_deletes_its_refunds(settings: Settings) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        body = payment("O-1", "300.00", refunds=[refund("RF-1", "100.00")])
        await rig.put("payments", "PAY-1", body)
        assert (await rig.settled("refunds", "PAY-1/RF-1"))["state"] == "synced"
        await rig.put("payments", "PAY-1", {**body, "voided": True})
        assert (await rig.settled("payment-voids", "PAY-1"))["state"] == "synced"
        gone = await rig.settled("refunds", "PAY-1/RF-1", attempts_after=1)
        assert gone["state"] == "synced", gone
        assert await rig.qbo_entities("RefundReceipt") == []
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("450.00")
        assert got["deposit"] == Decimal("0.00")


async def test_r04_credit_applied_uses_the_customers_open_credit_memo(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        (invoice,) = await rig.qbo_entities("Invoice")
        item = invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"]
        memo = await rig.qbo.post(
            f"/v3/company/{rig.realm}/creditmemo",
            json={
                "CustomerRef": invoice["CustomerRef"],
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Amount": 120,
                        "SalesItemLineDetail": {"ItemRef": {"value": item}},
                    }
                ],
            },
            headers=await bearer(rig),
        )
        assert memo.status_code == 200, memo.text
        await rig.put(
            "payments", "PAY-C", payment("O-1", "100.00", kind="credit_applied", method=None)
        )
        status = await settled_payment(rig, "PAY-C")
        assert status["state"] == "synced", status
        (paid,) = await rig.qbo_entities("Payment")
        assert cents(paid["TotalAmt"]) == 0
        assert "DepositToAccountRef" not in paid or cents(paid["TotalAmt"]) == 0
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("350.00")
        assert got["customer_balance"] == Decimal("330.00")  # 350 open less 20 credit left
        assert got["deposit"] == Decimal("0.00")


async def test_r04_credit_applied_without_credit_in_qbo_fails_with_a_remedy(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put(
            "payments", "PAY-C", payment("O-1", "100.00", kind="credit_applied", method=None)
        )
        status = await settled_payment(rig, "PAY-C")
        assert status["state"] == "failed", status
        assert status["error"]["code"] == "rentsync_no_customer_credit"
        assert "credit memo" in status["error"]["remedy"]
        assert await rig.qbo_entities("Payment") == []


async def test_r11_a_quotes_first_payment_brings_its_invoice_to_qbo(settings: Settings) -> None:
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await sync_mode(rig, "orders_and_quotes_with_payment")
        await rig.put("orders", "Q-1", make.order("3003", kind="quote"))
        skipped = await rig.settled("orders", "Q-1")
        assert skipped["state"] == "skipped"
        await rig.put("payments", "PAY-1", payment("Q-1", "100.00"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        assert (await rig.status("orders", "Q-1"))["state"] == "synced"
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("350.00")


async def test_r11_only_with_payment_holds_orders_until_their_first_payment(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await rig.ready_with_catalogue()
        await sync_mode(rig, "only_with_payment")
        await rig.put("orders", "O-1", make.order("3004"))
        skipped = await rig.settled("orders", "O-1")
        assert skipped["skip"]["reason"] == "order_without_payment"
        await rig.put("payments", "PAY-1", payment("O-1", "450.00"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("0.00")


async def test_r12_payments_of_a_no_quickbooks_order_are_skipped_even_after_it_synced(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("payments", "PAY-1", payment("O-1", "100.00"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        await rig.put("orders", "O-1", make.order("3001", no_quickbooks=True))
        await rig.settled("orders", "O-1", revision=2)
        changed = await rig.put(
            "payments", "PAY-1", payment("O-1", "100.00", refunds=[refund("RF-1", "10.00")])
        )
        status = await settled_payment(rig, "PAY-1", revision=changed.json()["revision"])
        assert status["state"] == "skipped", status
        assert "payment already in QuickBooks was left as it is" in status["history"][0]["outcome"]
        assert (await rig.settled("refunds", "PAY-1/RF-1"))["state"] == "skipped"
        await rig.put("payments", "PAY-2", payment("O-1", "50.00"))
        assert (await settled_payment(rig, "PAY-2"))["state"] == "skipped"
        assert len(await rig.qbo_entities("Payment")) == 1
        assert await rig.qbo_entities("RefundReceipt") == []


async def test_r04_a_payment_refusing_more_refunds_than_paid_is_422(settings: Settings) -> None:
    async with rig_for(settings) as rig:
        response = await rig.api.put(
            "/api/v1/payments/PAY-1",
            json=payment("O-1", "10.00", refunds=[refund("RF-1", "20.00")]),
            headers=rig.headers,
        )
        assert response.status_code == 422
        bad = await rig.api.put(
            "/api/v1/payments/PAY-1",
            json=payment("O-1", "-5.00"),
            headers=rig.headers,
        )
        assert bad.status_code == 422
        assert any(e["loc"][-1] == "amount" for e in bad.json()["detail"])


async def bearer(rig: Rig) -> dict[str, str]:
    """An access token of the emulator's own, for a bookkeeper's entry made directly in QBO."""
    (app, *_) = (await rig.qbo.get("/admin/apps")).json()
    issued = await rig.qbo.post(
        f"/admin/companies/{rig.realm}/tokens", json={"client_id": app["client_id"]}
    )
    assert issued.status_code == 200, issued.text
    return {
        "Authorization": f"Bearer {issued.json()['access_token']}",
        "Accept": "application/json",
    }


async def test_r04_a_payment_the_ledger_forgot_is_adopted_not_posted_twice(
    settings: Settings,
) -> None:
    """B1: a restore from an older backup loses the payment's QBO Id; QBO keeps no unique
    number on a Payment, so it is found by its customer and rentsync's marker."""
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("payments", "PAY-1", payment("O-1", "100.00"))
        first = await settled_payment(rig, "PAY-1")
        assert settings.database_url
        async with await psycopg.AsyncConnection.connect(
            settings.database_url, autocommit=True
        ) as db:
            await db.execute(
                "UPDATE sync_records SET qbo_id = NULL, sync_token = NULL, synced_hash = NULL "
                "WHERE doc_type = 'payment' AND source_id = 'PAY-1'"
            )
        update = await rig.put("payments", "PAY-1", payment("O-1", "150.00"))
        done = await settled_payment(rig, "PAY-1", revision=update.json()["revision"])
        assert done["state"] == "synced", done
        assert done["qbo"]["id"] == first["qbo"]["id"]
        (paid,) = await rig.qbo_entities("Payment")
        assert cents(paid["TotalAmt"]) == Decimal("150.00")
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("300.00")


async def test_r04_a_refund_receipt_the_ledger_forgot_is_adopted_not_posted_twice(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        body = payment("O-1", "100.00", refunds=[refund("RF-1", "20.00")])
        await rig.put("payments", "PAY-1", body)
        first = await rig.settled("refunds", "PAY-1/RF-1")
        assert settings.database_url
        async with await psycopg.AsyncConnection.connect(
            settings.database_url, autocommit=True
        ) as db:
            await db.execute(
                "UPDATE sync_records SET qbo_id = NULL, sync_token = NULL, synced_hash = NULL "
                "WHERE doc_type = 'refund'"
            )
        await rig.put("payments", "PAY-1", {**body, "refunds": [refund("RF-1", "25.00")]})
        done = await rig.settled("refunds", "PAY-1/RF-1", attempts_after=1)
        assert done["state"] == "synced", done
        assert done["qbo"]["id"] == first["qbo"]["id"]
        (receipt,) = await rig.qbo_entities("RefundReceipt")
        assert cents(receipt["TotalAmt"]) == Decimal("25.00")


async def test_r04_a_payment_whose_create_answer_was_lost_is_found_not_posted_twice(
    settings: Settings,
) -> None:
    """B1: QBO committed the payment but the answer was lost; the retry finds it by its
    customer and marker (the write intent) and never posts a second one."""
    async with rig_for(settings, settings_overrides={"sync_transient_base_seconds": 0.2}) as rig:
        await order_in_qbo(rig)
        # The job's reads (the payment method, the look-up before the create) spend the first
        # two drops without effect; the third drops the create's answer after it committed.
        await rig.faults({"next": ["drop", "drop", "drop"]})
        await rig.put("payments", "PAY-1", payment("O-1", "100.00", method="cash"))
        status = await settled_payment(rig, "PAY-1")
        assert status["state"] == "synced", status
        assert any(h["outcome"].startswith("retrying") for h in status["history"])
        (paid,) = await rig.qbo_entities("Payment")
        assert status["qbo"]["id"] == paid["Id"]
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("350.00")


async def test_r04_a_payment_deleted_in_the_rental_system_is_deleted_in_qbo(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put(
            "payments", "PAY-1", payment("O-1", "100.00", refunds=[refund("RF-1", "10.00")])
        )
        assert (await rig.settled("refunds", "PAY-1/RF-1"))["state"] == "synced"
        deleted = await rig.api.delete("/api/v1/payments/PAY-1", headers=rig.headers)
        assert deleted.status_code == 202, deleted.text
        done = await settled_payment(rig, "PAY-1", revision=deleted.json()["revision"])
        assert done["state"] == "synced" and done["qbo"] is None, done
        gone = await rig.settled("refunds", "PAY-1/RF-1", attempts_after=1)
        assert gone["state"] == "synced" and gone["qbo"] is None, gone
        assert await rig.qbo_entities("Payment") == []
        assert await rig.qbo_entities("RefundReceipt") == []
        got = await figures(rig, rig.accounts["undeposited"])
        assert got["invoice_balance"] == Decimal("450.00")


async def test_r04_refunds_with_the_same_id_on_two_payments_each_get_their_own_doc_number(
    settings: Settings,
) -> None:
    """A refund id is unique only within its payment; refund receipts share the invoices'
    DocNumber namespace, where QBO refuses a repeat (6140). Two payments, each refunded by a
    refund "RF-1", both reach QuickBooks, each receipt numbered after its own payment."""
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("orders", "O-2", make.order("3002"))
        assert (await rig.settled("orders", "O-2"))["state"] == "synced"
        for payment_id, order_id in (("PAY-1", "O-1"), ("PAY-2", "O-2")):
            body = payment(order_id, "100.00", refunds=[refund("RF-1", "20.00")])
            await rig.put("payments", payment_id, body)
            status = await rig.settled("refunds", f"{payment_id}/RF-1")
            assert status["state"] == "synced", status
        receipts = await rig.qbo_entities("RefundReceipt")
        assert sorted(r["DocNumber"] for r in receipts) == ["RF-PAY-1/RF-1", "RF-PAY-2/RF-1"]
        # A resync writes the same number again (deterministic): still two receipts.
        await rig.put(
            "payments", "PAY-2", payment("O-2", "100.00", refunds=[refund("RF-1", "30.00")])
        )
        done = await rig.settled("refunds", "PAY-2/RF-1", attempts_after=1)
        assert done["state"] == "synced", done
        receipts = await rig.qbo_entities("RefundReceipt")
        assert sorted(r["DocNumber"] for r in receipts) == ["RF-PAY-1/RF-1", "RF-PAY-2/RF-1"]


def _method_lookups(log: list[Any]) -> int:
    return sum(
        1 for entry in log if "from paymentmethod" in (entry.path + entry.request_body).lower()
    )


async def test_i13_a_payment_method_is_looked_up_once_per_company_not_per_payment(
    settings: Settings,
) -> None:
    """Issue 13 (P4): every payment and refund job needs its method's QBO Id; the worker keeps
    the Id it resolved for the company's connection instead of asking QBO on every job."""
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("orders", "O-2", make.order("3002"))
        assert (await rig.settled("orders", "O-2"))["state"] == "synced"
        for number, order_id in ((1, "O-1"), (2, "O-2"), (3, "O-1")):
            body = payment(order_id, "10.00", refunds=[refund("RF-1", "5.00")])
            await rig.put("payments", f"PAY-{number}", body)
            assert (await rig.settled("refunds", f"PAY-{number}/RF-1"))["state"] == "synced"
        services = rig.api.app.state.services  # type: ignore[attr-defined]
        log = await services.qbo_log.page(rig.company_id, limit=500)
        # Card, resolved once: a look-up, and as the company has no "Credit Card" yet, again
        # under the lock, then the create; the three payments and three refunds reuse its Id
        # (they looked it up each: at least 7 look-ups).
        assert _method_lookups(log) == 2
        (method,) = [
            m for m in await rig.qbo_entities("PaymentMethod") if m["Name"] == "Credit Card"
        ]
        payments = await rig.qbo_entities("Payment")
        receipts = await rig.qbo_entities("RefundReceipt")
        assert len(payments) == 3 and len(receipts) == 3
        assert {p["PaymentMethodRef"]["value"] for p in payments + receipts} == {method["Id"]}


async def test_i13_a_kept_payment_method_qbo_says_is_gone_is_resolved_again(
    settings: Settings,
) -> None:
    """A bookkeeper deletes the payment method in QuickBooks (QBO makes it inactive, renamed
    "(deleted)"): the next payment's write is refused (610) with the Id the worker kept; the
    Id is dropped, the name resolved again (a new "Credit Card" created) and the payment
    written with it, not failed."""
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        await rig.put("payments", "PAY-1", payment("O-1", "10.00"))
        assert (await settled_payment(rig, "PAY-1"))["state"] == "synced"
        (old,) = [m for m in await rig.qbo_entities("PaymentMethod") if m["Name"] == "Credit Card"]
        await rig.act(
            "PaymentMethod", old["Id"], "edit", {"Name": "Credit Card (deleted)", "Active": False}
        )
        body = payment("O-1", "20.00", refunds=[refund("RF-1", "5.00")])
        await rig.put("payments", "PAY-2", body)
        status = await settled_payment(rig, "PAY-2")
        assert status["state"] == "synced", (status.get("error"), status.get("history"))
        assert (await rig.settled("refunds", "PAY-2/RF-1"))["state"] == "synced"
        (new,) = [m for m in await rig.qbo_entities("PaymentMethod") if m["Name"] == "Credit Card"]
        assert new["Id"] != old["Id"] and new.get("Active", True)
        second = [p for p in await rig.qbo_entities("Payment") if p["TotalAmt"] in (20, "20.00")]
        assert [p["PaymentMethodRef"]["value"] for p in second] == [new["Id"]]
        (receipt,) = await rig.qbo_entities("RefundReceipt")
        assert receipt["PaymentMethodRef"]["value"] == new["Id"]


async def test_r04_a_refund_waiting_for_its_failed_payment_follows_the_payment_s_resync(
    settings: Settings,
) -> None:
    async with rig_for(settings) as rig:
        await order_in_qbo(rig)
        customer = (await rig.status("customers", "C-1"))["qbo"]["id"]
        await rig.act("Customer", customer, "deactivate")
        await rig.put(
            "payments", "PAY-1", payment("O-1", "450.00", refunds=[refund("RF-1", "50.00")])
        )
        failed = await settled_payment(rig, "PAY-1")
        assert failed["state"] == "failed", failed
        waiting = await rig.settled("refunds", "PAY-1/RF-1")
        assert waiting["state"] == "skipped", waiting
        assert waiting["skip"]["reason"] == "waiting_for_document"
        assert "payment 'PAY-1' (failed)" in waiting["history"][0]["outcome"]

        await rig.act("Customer", customer, "activate")
        resynced = await rig.api.post("/api/v1/payments/PAY-1/resync", headers=rig.headers)
        assert resynced.status_code == 202, resynced.text
        paid = await rig.settled("payments", "PAY-1", attempts_after=len(failed["history"]))
        assert paid["state"] == "synced", paid
        refunded = await rig.settled(
            "refunds", "PAY-1/RF-1", attempts_after=len(waiting["history"])
        )
        assert refunded["state"] == "synced", refunded
        (receipt,) = await rig.qbo_entities("RefundReceipt")
        assert cents(receipt["TotalAmt"]) == Decimal("50.00")
