"""Order -> QBO Invoice payloads (R2, R3, R8, B1), with golden snapshots."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rentsync.domain.documents import Discount, RentalPeriod
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.invoice import (
    TAX_AFTER_DISCOUNT,
    InvoiceRefs,
    invoice_create,
    invoice_delete,
    invoice_marker,
    invoice_update,
)
from tests.unit.factories import WEEKEND, line, make_order, order_key
from tests.unit.snapshots import assert_matches_snapshot

KEY = order_key("ord-1001")
ITEMS = {
    "tent-20x30": "3",
    "chair": "4",
    "table-6ft": "5",
    "napkin": "6",
    "delivery": "7",
    "p1": "11",
    "p2": "12",
}
LOCAL_8 = InvoiceRefs(customer_id="59", item_ids=ITEMS, tax_code_id="3")
AST = InvoiceRefs(customer_id="59", item_ids=ITEMS, automated_sales_tax=True)


def sandbox_order():  # type: ignore[no-untyped-def]
    """The recorded sandbox invoice: 50 + 70 taxable, discount 10, 8 % -> 9.60 tax, 119.60."""
    return make_order(
        lines=[line("p1", "1", "50.00"), line("p2", "1", "70.00")],
        discounts=[Discount(amount=Decimal("10.00"))],
        discount="10.00",
        tax="9.60",
        tax_rate_id="local-8",
        invoice_number="1001",
        invoice_date=date(2025, 5, 27),
        due_date=date(2025, 6, 26),
    )


def party_weekend_order():  # type: ignore[no-untyped-def]
    """A wedding weekend: tent, chairs and tables for rent, napkins for sale, a delivery fee,
    10 % off; tax on the taxable lines before the discount."""
    return make_order(
        lines=[
            line("tent-20x30", "1", "450.00", description="Tent 20x30, white"),
            line("chair", "120", "2.75", description="White folding chair"),
            line(
                "table-6ft",
                "15",
                "9.00",
                description="6 ft banquet table",
                rental_period=RentalPeriod(start=date(2025, 6, 12), end=date(2025, 6, 16)),
            ),
            line("napkin", "120", "0.85", description="Linen napkin, white (sale)"),
        ],
        fees=[line("delivery", "1", "85.00", taxable=False, description="Delivery and pickup")],
        discounts=[Discount(description="Spring promotion 10%", percent=Decimal("10"))],
        discount="110.20",
        tax="81.36",
        tax_rate_id="local-8",
        rental_period=WEEKEND,
        invoice_number="R-1001",
        invoice_date=date(2025, 6, 12),
        due_date=date(2025, 6, 27),
    )


def test_r02_recorded_sandbox_invoice_payload() -> None:
    payload = invoice_create(sandbox_order(), LOCAL_8, key=KEY)
    assert_matches_snapshot(payload, "invoice_sandbox_example")


def test_r02_party_weekend_invoice_payload() -> None:
    payload = invoice_create(party_weekend_order(), LOCAL_8, key=KEY)
    assert_matches_snapshot(payload, "invoice_party_weekend")


def test_r08_ast_company_invoice_carries_the_tax_override() -> None:
    order = make_order(
        lines=[line("tent-20x30", "1", "450.00"), line("chair", "100", "2.75")],
        fees=[line("delivery", "1", "85.00", taxable=False)],
        discounts=[
            Discount(description="Repeat customer", amount=Decimal("25.00")),
            Discount(description="Cash 5%", percent=Decimal("5")),
        ],
        discount="64.25",
        tax="59.81",
        tax_rate_id="local-8",
        invoice_number="R-1002",
    )
    payload = invoice_create(order, AST, key=order_key("ord-1002"))
    assert payload["TxnTaxDetail"] == {"TotalTax": Decimal("59.81")}
    assert_matches_snapshot(payload, "invoice_ast_several_discounts")


def test_r17_update_payload_is_sparse_with_every_line() -> None:
    order = party_weekend_order()
    payload = invoice_update(order, LOCAL_8, key=KEY, qbo_id="146", sync_token="2")
    assert_matches_snapshot(payload, "invoice_party_weekend_update")
    created = invoice_create(order, LOCAL_8, key=KEY)
    assert payload == {"Id": "146", "SyncToken": "2", "sparse": True, **created}
    assert len(payload["Line"]) == len(order.lines) + len(order.fees) + 1


def test_r03_delete_payload_is_id_and_sync_token() -> None:
    assert invoice_delete(qbo_id="146", sync_token="3") == {"Id": "146", "SyncToken": "3"}
    with pytest.raises(ValueError, match="SyncToken"):
        invoice_delete(qbo_id="146", sync_token="")


def test_r02_doc_number_and_dates() -> None:
    payload = invoice_create(sandbox_order(), LOCAL_8, key=KEY)
    assert payload["DocNumber"] == "1001"
    assert payload["TxnDate"] == "2025-05-27"
    assert payload["DueDate"] == "2025-06-26"
    assert payload["CustomerRef"] == {"value": "59"}


def test_r02_without_a_due_date_none_is_sent() -> None:
    assert "DueDate" not in invoice_create(make_order(), LOCAL_8, key=KEY)


def test_r02_line_per_order_line_and_fee_then_one_discount_line() -> None:
    payload = invoice_create(party_weekend_order(), LOCAL_8, key=KEY)
    kinds = [entry["DetailType"] for entry in payload["Line"]]
    assert kinds == ["SalesItemLineDetail"] * 5 + ["DiscountLineDetail"]


def test_r02_line_tax_codes_follow_line_taxable() -> None:
    order = make_order(lines=[line("p1", "1", "50.00"), line("p2", "1", "70.00", taxable=False)])
    payload = invoice_create(order, LOCAL_8, key=KEY)
    codes = [entry["SalesItemLineDetail"]["TaxCodeRef"]["value"] for entry in payload["Line"]]
    assert codes == ["TAX", "NON"]


def test_r08_order_without_tax_rate_on_a_company_without_ast_sends_every_line_non() -> None:
    """No stale TxnTaxCodeRef left by an earlier version can then add tax."""
    payload = invoice_create(make_order(), InvoiceRefs(customer_id="59", item_ids=ITEMS), key=KEY)
    assert "TxnTaxDetail" not in payload
    assert {e["SalesItemLineDetail"]["TaxCodeRef"]["value"] for e in payload["Line"]} == {"NON"}


def test_r08_tax_code_of_the_synced_rate_is_the_header_code() -> None:
    payload = invoice_create(sandbox_order(), LOCAL_8, key=KEY)
    assert payload["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "3"}}


def test_r08_ast_company_sends_code_and_total_tax_when_both_are_known() -> None:
    refs = InvoiceRefs(customer_id="59", item_ids=ITEMS, tax_code_id="3", automated_sales_tax=True)
    payload = invoice_create(sandbox_order(), refs, key=KEY)
    assert payload["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "3"}, "TotalTax": Decimal("9.60")}


def test_r08_ast_company_zero_tax_is_sent_as_an_override() -> None:
    payload = invoice_create(make_order(), AST, key=KEY)
    assert payload["TxnTaxDetail"] == {"TotalTax": Decimal("0.00")}


def test_r08_tax_rate_not_synced_from_qbo_fails_before_writing() -> None:
    order = make_order(tax_rate_id="local-8", tax="9.60")
    with pytest.raises(MappingError) as caught:
        invoice_create(order, InvoiceRefs(customer_id="59", item_ids=ITEMS), key=KEY)
    assert caught.value.problem is MappingProblem.TAX_RATE_NOT_SYNCED
    assert caught.value.field == "tax_rate_id"
    assert "Sync with QuickBooks" in caught.value.remedy


def test_r08_tax_without_a_rate_fails_before_writing() -> None:
    order = make_order(tax="9.60")
    with pytest.raises(MappingError) as caught:
        invoice_create(order, InvoiceRefs(customer_id="59", item_ids=ITEMS), key=KEY)
    assert caught.value.problem is MappingProblem.TAX_WITHOUT_RATE


def test_r02_one_percent_discount_is_percent_based() -> None:
    payload = invoice_create(party_weekend_order(), LOCAL_8, key=KEY)
    discount = payload["Line"][-1]
    assert discount["Amount"] == Decimal("110.20")
    assert discount["DiscountLineDetail"] == {
        "PercentBased": True,
        "DiscountPercent": Decimal("10"),
    }


def test_r02_percent_the_rental_system_applied_differently_becomes_its_amount() -> None:
    order = make_order(discounts=[Discount(percent=Decimal("10"))], discount="11.00")
    discount = invoice_create(order, LOCAL_8, key=KEY)["Line"][-1]
    assert discount["Amount"] == Decimal("11.00")
    assert discount["DiscountLineDetail"] == {"PercentBased": False}


def test_r02_several_discounts_become_one_amount_line_with_the_orders_total_discount() -> None:
    order = make_order(
        discounts=[
            Discount(description="Loyalty", amount=Decimal("5.00")),
            Discount(description="Promo", percent=Decimal("5")),
        ],
        discount="11.00",
    )
    discounts = [
        e
        for e in invoice_create(order, LOCAL_8, key=KEY)["Line"]
        if e["DetailType"] != "SalesItemLineDetail"
    ]
    assert discounts == [
        {
            "Description": "Loyalty; Promo",
            "DetailType": "DiscountLineDetail",
            "Amount": Decimal("11.00"),
            "DiscountLineDetail": {"PercentBased": False},
        }
    ]


def test_r02_no_discount_no_discount_line() -> None:
    payload = invoice_create(make_order(), LOCAL_8, key=KEY)
    assert all(e["DetailType"] == "SalesItemLineDetail" for e in payload["Line"])


def test_r02_tax_is_applied_before_the_discount_as_the_rental_system_computes_it() -> None:
    assert TAX_AFTER_DISCOUNT is False
    assert invoice_create(sandbox_order(), LOCAL_8, key=KEY)["ApplyTaxAfterDiscount"] is False


def test_r02_rental_period_goes_into_description_and_service_date() -> None:
    payload = invoice_create(party_weekend_order(), LOCAL_8, key=KEY)
    tent, _, tables, _, delivery = payload["Line"][:5]
    assert tent["Description"] == "Tent 20x30, white (2025-06-13 to 2025-06-15)"
    assert tent["SalesItemLineDetail"]["ServiceDate"] == "2025-06-13"
    assert tables["Description"] == "6 ft banquet table (2025-06-12 to 2025-06-16)"
    assert tables["SalesItemLineDetail"]["ServiceDate"] == "2025-06-12"
    assert delivery["Description"] == "Delivery and pickup"
    assert "ServiceDate" not in delivery["SalesItemLineDetail"]


def test_r02_a_line_without_description_names_its_rental_period() -> None:
    order = make_order(rental_period=WEEKEND)
    assert invoice_create(order, LOCAL_8, key=KEY)["Line"][0]["Description"] == (
        "Rental 2025-06-13 to 2025-06-15"
    )


def test_r02_long_descriptions_keep_the_period_within_4000_characters() -> None:
    order = make_order(
        lines=[line("p1", "1", "5.00", description="x" * 4000)], rental_period=WEEKEND
    )
    description = invoice_create(order, LOCAL_8, key=KEY)["Line"][0]["Description"]
    assert len(description) == 4000
    assert description.endswith("(2025-06-13 to 2025-06-15)")


def test_r02_amount_is_the_rental_systems_and_unit_price_keeps_qty_times_price_equal() -> None:
    """QBO refuses Amount != Qty x UnitPrice (6070); the domain allows a cent of rounding."""
    order = make_order(lines=[line("p1", "3", "0.33", amount=Decimal("1.00"))])
    detail_line = invoice_create(order, LOCAL_8, key=KEY)["Line"][0]
    detail = detail_line["SalesItemLineDetail"]
    assert detail_line["Amount"] == Decimal("1.00")
    assert detail["Qty"] == Decimal("3")
    assert (detail["Qty"] * detail["UnitPrice"]).quantize(Decimal("0.01")) == Decimal("1.00")


def test_r02_unit_price_is_the_rate_when_it_multiplies_out() -> None:
    detail = invoice_create(make_order(), LOCAL_8, key=KEY)["Line"][1]["SalesItemLineDetail"]
    assert detail == {
        "ItemRef": {"value": "4"},
        "Qty": Decimal("7"),
        "UnitPrice": Decimal("10.00"),
        "TaxCodeRef": {"value": "TAX"},
    }


def test_r02_a_product_without_qbo_item_fails_before_writing() -> None:
    with pytest.raises(MappingError) as caught:
        invoice_create(make_order(), InvoiceRefs(customer_id="59"), key=KEY)
    assert caught.value.problem is MappingProblem.REFERENCE_MISSING


def test_b1_private_note_carries_the_orders_marker() -> None:
    payload = invoice_create(make_order(), LOCAL_8, key=KEY)
    assert payload["PrivateNote"] == "[rentsync:c7:order:ord-1001]" == invoice_marker(KEY)


def test_b1_markers_of_similar_ids_do_not_contain_each_other() -> None:
    assert invoice_marker(order_key("A1")) not in invoice_marker(order_key("A10"))


def test_r02_payload_money_is_decimal_and_ids_are_strings() -> None:
    payload = invoice_create(party_weekend_order(), LOCAL_8, key=KEY)
    for entry in payload["Line"]:
        assert isinstance(entry["Amount"], Decimal)
        detail = entry.get("SalesItemLineDetail")
        if detail:
            assert isinstance(detail["Qty"], Decimal)
            assert isinstance(detail["UnitPrice"], Decimal)
            assert isinstance(detail["ItemRef"]["value"], str)
