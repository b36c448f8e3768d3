"""Issue 12: a document's link to QuickBooks (the QBO web app, or the emulator's view)."""

from __future__ import annotations

import pytest

from rentsync.qbo.links import document_url


@pytest.mark.parametrize(
    ("environment", "entity", "qbo_id", "expected"),
    [
        ("production", "Invoice", "145", "https://app.qbo.intuit.com/app/invoice?txnId=145"),
        ("sandbox", "Invoice", "145", "https://app.sandbox.qbo.intuit.com/app/invoice?txnId=145"),
        ("sandbox", "Bill", "9", "https://app.sandbox.qbo.intuit.com/app/bill?txnId=9"),
        ("production", "Customer", "58", "https://app.qbo.intuit.com/app/customerdetail?nameId=58"),
        ("production", "Vendor", "31", "https://app.qbo.intuit.com/app/vendordetail?nameId=31"),
        ("production", "Payment", "7", "https://app.qbo.intuit.com/app/recvpayment?txnId=7"),
        ("production", "Item", "11", None),
        ("production", "Invoice", None, None),
        ("production", None, "1", None),
        (
            "production",
            "Invoice",
            "5&x=1 #",
            "https://app.qbo.intuit.com/app/invoice?txnId=5%26x%3D1+%23",
        ),
    ],
)
def test_i12_deep_link_to_the_qbo_web_app(
    environment: str, entity: str | None, qbo_id: str | None, expected: str | None
) -> None:
    assert document_url(environment, entity, qbo_id) == expected


def test_i12_deep_link_to_the_emulators_view() -> None:
    assert (
        document_url(
            "emulator", "Invoice", "42", realm_id="9341", emulator_url="http://127.0.0.1:8765/"
        )
        == "http://127.0.0.1:8765/admin/companies/9341/view/Invoice/42"
    )
    assert document_url("emulator", "Invoice", "42", emulator_url="http://e") is None
    assert document_url("emulator", "Item", "a/b", realm_id="r", emulator_url="http://e") == (
        "http://e/admin/companies/r/view/Item/a%2Fb"
    )
