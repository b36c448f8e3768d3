"""Issue 9, B8: payment terms give DueDate, Customer.Balance follows the customer's documents, and
the entities a realistic company holds (Term, Class, Department, CustomerType, SalesReceipt,
Estimate, JournalEntry, Deposit, VendorCredit, Purchase) exist (see choices.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.emulator.conftest import Qbo


def _line(item_id: str, amount: str = "100.00") -> dict[str, Any]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {"ItemRef": {"value": item_id}},
    }


async def _term(qbo: Qbo, name: str) -> dict[str, Any]:
    found = await qbo.query(f"select * from Term where Name = '{name}'")
    term: dict[str, Any] = found["QueryResponse"]["Term"][0]
    return term


async def test_b8_due_date_follows_the_customers_payment_terms(qbo: Qbo) -> None:
    net30 = await _term(qbo, "Net 30")
    assert (net30["Type"], net30["DueDays"]) == ("STANDARD", 30)
    customer = await qbo.create(
        "Customer", {"DisplayName": "Termed", "SalesTermRef": {"value": net30["Id"]}}
    )
    item = await qbo.service_item()
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TxnDate": "2025-01-20",
            "Line": [_line(item["Id"])],
        },
    )
    assert invoice["DueDate"] == "2025-02-19"
    assert invoice["SalesTermRef"]["value"] == net30["Id"]
    # the invoice's own terms win over the customer's; a DueDate sent wins over both
    net15 = await _term(qbo, "Net 15")
    own = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TxnDate": "2025-01-20",
            "SalesTermRef": {"value": net15["Id"]},
            "Line": [_line(item["Id"])],
        },
    )
    assert own["DueDate"] == "2025-02-04"
    sent = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TxnDate": "2025-01-20",
            "DueDate": "2025-03-01",
            "Line": [_line(item["Id"])],
        },
    )
    assert sent["DueDate"] == "2025-03-01"
    # a date-driven term: due on the 10th, next month when issued within 5 days of it
    tenth = await qbo.create(
        "Term", {"Name": "10th", "Type": "DATE_DRIVEN", "DayOfMonthDue": 10, "DueNextMonthDays": 5}
    )
    dated = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TxnDate": "2025-12-07",
            "SalesTermRef": {"value": tenth["Id"]},
            "Line": [_line(item["Id"])],
        },
    )
    assert dated["DueDate"] == "2026-01-10"
    bad = await qbo.post("term", {"Name": "Odd", "Type": "WEEKLY"})
    assert bad.json()["Fault"]["Error"][0]["code"] == "2120"


async def test_b8_customer_balance_follows_invoices_payments_and_credit_memos(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item(taxable=False)
    ref = {"value": customer["Id"]}

    async def balance() -> Decimal:
        read = await qbo.client.get(qbo.url(f"customer/{customer['Id']}"))
        body = read.json()["Customer"]
        assert body["BalanceWithJobs"] == body["Balance"]
        return Decimal(str(body["Balance"]))

    invoice = await qbo.create("Invoice", {"CustomerRef": ref, "Line": [_line(item["Id"], "300")]})
    assert await balance() == Decimal(300)
    payment = await qbo.create(
        "Payment",
        {
            "CustomerRef": ref,
            "TotalAmt": "120",
            "Line": [
                {"Amount": "100", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert await balance() == Decimal(180)  # 200 open, 20 unapplied
    await qbo.create("CreditMemo", {"CustomerRef": ref, "Line": [_line(item["Id"], "50")]})
    assert await balance() == Decimal(130)
    await qbo.create(
        "RefundReceipt",
        {
            "CustomerRef": ref,
            "DepositToAccountRef": {"value": qbo.account("bank")},
            "Line": [_line(item["Id"], "10")],
        },
    )
    assert await balance() == Decimal(130)  # a refund receipt pays back cash: no A/R
    voided = await qbo.post(
        "payment",
        {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
        operation="update",
        include="void",
    )
    assert voided.status_code == 200, voided.text
    assert await balance() == Decimal(250)
    # a full update of the customer sending Balance 0 does not reset it
    read = (await qbo.client.get(qbo.url(f"customer/{customer['Id']}"))).json()["Customer"]
    await qbo.create("Customer", {**read, "Balance": 0, "Notes": "edited"})
    assert await balance() == Decimal(250)


async def test_b8_class_department_and_customer_type_are_lists_a_user_assigns(qbo: Qbo) -> None:
    rentals = await qbo.create("Class", {"Name": "Rentals"})
    tents = await qbo.create("Class", {"Name": "Tents", "ParentRef": {"value": rentals["Id"]}})
    assert (tents["FullyQualifiedName"], tents["SubClass"]) == ("Rentals:Tents", True)
    north = await qbo.create("Department", {"Name": "North"})
    duplicate = await qbo.post("department", {"Name": "north"})
    assert duplicate.json()["Fault"]["Error"][0]["code"] == "6240"
    kind = await qbo.create("CustomerType", {"Name": "Events"})
    customer = await qbo.create(
        "Customer", {"DisplayName": "Typed", "CustomerTypeRef": {"value": kind["Id"]}}
    )
    assert customer["CustomerTypeRef"]["value"] == kind["Id"]
    item = await qbo.service_item()
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "ClassRef": {"value": tents["Id"]},
            "DepartmentRef": {"value": north["Id"]},
            "Line": [_line(item["Id"])],
        },
    )
    assert invoice["ClassRef"] == {"value": tents["Id"], "name": "Rentals:Tents"}
    assert invoice["DepartmentRef"]["value"] == north["Id"]
    missing = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "ClassRef": {"value": "9999"},
            "Line": [_line(item["Id"])],
        },
    )
    assert missing.json()["Fault"]["Error"][0]["Detail"] == (
        "Invalid Reference Id : Klasses element id 9999 not found"
    )
    listed = await qbo.query("select * from Class where Name = 'Tents'")
    assert [c["Id"] for c in listed["QueryResponse"]["Class"]] == [tents["Id"]]
    cannot = await qbo.post("class", {"Id": tents["Id"], "SyncToken": "0"}, operation="delete")
    assert cannot.json()["Fault"]["Error"][0]["code"] != "0"
    assert cannot.status_code == 400


async def test_b8_sales_receipts_and_estimates(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item(taxable=False)
    receipt = await qbo.create(
        "SalesReceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [_line(item["Id"])]}
    )
    assert Decimal(str(receipt["TotalAmt"])) == Decimal(100)
    assert Decimal(str(receipt["Balance"])) == 0
    assert receipt["DepositToAccountRef"]["value"] == qbo.account("undeposited")
    estimate = await qbo.create(
        "Estimate",
        {
            "CustomerRef": {"value": customer["Id"]},
            "ExpirationDate": "2025-02-01T00:00:00",
            "Line": [_line(item["Id"])],
        },
    )
    assert (estimate["TxnStatus"], estimate["ExpirationDate"]) == ("Pending", "2025-02-01")
    assert "Balance" not in estimate
    no_customer = await qbo.post("estimate", {"Line": [_line(item["Id"])]})
    assert no_customer.json()["Fault"]["Error"][0]["code"] == "2020"
    read = (await qbo.client.get(qbo.url(f"customer/{customer['Id']}"))).json()["Customer"]
    assert Decimal(str(read["Balance"])) == 0  # neither is owed
    deleted = await qbo.post(
        "salesreceipt",
        {"Id": receipt["Id"], "SyncToken": receipt["SyncToken"]},
        operation="delete",
    )
    assert deleted.json()["SalesReceipt"]["status"] == "Deleted"


async def test_b8_journal_entries_must_balance(qbo: Qbo) -> None:
    def line(posting: str, account: str, amount: str) -> dict[str, Any]:
        return {
            "DetailType": "JournalEntryLineDetail",
            "Amount": amount,
            "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": {"value": account}},
        }

    bank, expense = qbo.account("bank"), qbo.account("expense")
    entry = await qbo.create(
        "JournalEntry", {"Line": [line("Debit", expense, "40"), line("Credit", bank, "40")]}
    )
    assert Decimal(str(entry["TotalAmt"])) == Decimal(40)
    assert [item["Id"] for item in entry["Line"]] == ["1", "2"]
    unbalanced = await qbo.post(
        "journalentry", {"Line": [line("Debit", expense, "40"), line("Credit", bank, "39")]}
    )
    assert unbalanced.status_code == 400
    assert "Not Balanced" in unbalanced.json()["Fault"]["Error"][0]["Detail"]


async def test_b8_deposits_vendor_credits_and_purchases(qbo: Qbo) -> None:
    deposit = await qbo.create(
        "Deposit",
        {
            "DepositToAccountRef": {"value": qbo.account("bank")},
            "Line": [
                {
                    "DetailType": "DepositLineDetail",
                    "Amount": "75.5",
                    "DepositLineDetail": {"AccountRef": {"value": qbo.account("services")}},
                }
            ],
        },
    )
    assert Decimal(str(deposit["TotalAmt"])) == Decimal("75.50")
    vendor = await qbo.create("Vendor", {"DisplayName": "Tent Supply"})
    expense_line = {
        "DetailType": "AccountBasedExpenseLineDetail",
        "Amount": "25",
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": qbo.account("expense")}},
    }
    credit = await qbo.create(
        "VendorCredit", {"VendorRef": {"value": vendor["Id"]}, "Line": [expense_line]}
    )
    assert Decimal(str(credit["Balance"])) == Decimal(25)
    purchase = await qbo.create(
        "Purchase",
        {
            "AccountRef": {"value": qbo.account("card")},
            "PaymentType": "CreditCard",
            "EntityRef": {"value": vendor["Id"], "type": "Vendor"},
            "Line": [expense_line],
        },
    )
    assert purchase["EntityRef"] == {"value": vendor["Id"], "name": "Tent Supply", "type": "Vendor"}
    assert Decimal(str(purchase["TotalAmt"])) == Decimal(25)
    bad = await qbo.post(
        "purchase",
        {
            "AccountRef": {"value": qbo.account("card")},
            "PaymentType": "IOU",
            "Line": [expense_line],
        },
    )
    assert bad.json()["Fault"]["Error"][0]["code"] == "2120"
    found = await qbo.query("select * from Purchase where PaymentType = 'CreditCard'")
    assert [p["Id"] for p in found["QueryResponse"]["Purchase"]] == [purchase["Id"]]
