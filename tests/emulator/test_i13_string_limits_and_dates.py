"""The emulator holds payloads to QBO's documented limits (issue 13: where it was more lenient
than QBO, rentsync's payloads were never checked against them): strings longer than Intuit's
reference allows are refused with 2050 naming the element, at the limit accepted; dates are
`YYYY-MM-DD` or a date-time, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from tests.emulator.conftest import Qbo


def _fault(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


async def _invoice(qbo: Qbo, **fields: Any) -> Any:
    customer = await qbo.customer()
    item = await qbo.service_item()
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 10,
        "Description": fields.pop("description", "Tent"),
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    body = {"CustomerRef": {"value": customer["Id"]}, "Line": [line], **fields}
    return await qbo.post("invoice", body)


@pytest.mark.parametrize(
    ("fields", "element", "maximum"),
    [
        ({"PrivateNote": "n" * 4001}, "PrivateNote", 4000),
        ({"description": "d" * 4001}, "Description", 4000),
        ({"CustomerMemo": {"value": "m" * 1001}}, "value", 1000),
        ({"BillAddr": {"Line1": "a" * 501}}, "Line1", 500),
        ({"BillAddr": {"PostalCode": "9" * 31}}, "PostalCode", 30),
    ],
)
async def test_i13_an_invoice_string_over_qbos_limit_is_2050(
    qbo: Qbo, fields: dict[str, Any], element: str, maximum: int
) -> None:
    error = _fault(await _invoice(qbo, **fields))
    assert (error["code"], error["element"]) == ("2050", element)
    assert f"Max:{maximum} supported. Supplied length:{maximum + 1}" in error["Detail"]


async def test_i13_an_invoice_at_qbos_limits_is_accepted(qbo: Qbo) -> None:
    response = await _invoice(
        qbo,
        PrivateNote="n" * 4000,
        description="d" * 4000,
        CustomerMemo={"value": "m" * 1000},
        DocNumber="9" * 21,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["Invoice"]["PrivateNote"]) == 4000


@pytest.mark.parametrize(
    ("entity", "body", "element"),
    [
        ("Customer", {"DisplayName": "c" * 501}, "DisplayName"),
        ("Customer", {"DisplayName": "C", "CompanyName": "c" * 101}, "CompanyName"),
        ("Customer", {"DisplayName": "C", "Notes": "n" * 2001}, "Notes"),
        (
            "Customer",
            {"DisplayName": "C", "PrimaryPhone": {"FreeFormNumber": "5" * 31}},
            "FreeFormNumber",
        ),
        ("Customer", {"DisplayName": "C", "PrimaryEmailAddr": {"Address": "e" * 101}}, "Address"),
        ("Vendor", {"DisplayName": "V", "TaxIdentifier": "1" * 21}, "TaxIdentifier"),
    ],
)
async def test_i13_a_name_list_string_over_qbos_limit_is_2050(
    qbo: Qbo, entity: str, body: dict[str, Any], element: str
) -> None:
    error = _fault(await qbo.post(entity.lower(), body))
    assert (error["code"], error["element"]) == ("2050", element)


async def test_i13_an_item_name_over_100_is_2050_and_a_payment_ref_over_21(qbo: Qbo) -> None:
    too_long = await qbo.post(
        "item",
        {
            "Name": "i" * 101,
            "Type": "Service",
            "IncomeAccountRef": {"value": qbo.account("income")},
        },
    )
    assert (_fault(too_long)["code"], _fault(too_long)["element"]) == ("2050", "Name")
    customer = await qbo.customer("Payer")
    payment = await qbo.post(
        "payment",
        {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 5, "PaymentRefNum": "r" * 22},
    )
    assert (_fault(payment)["code"], _fault(payment)["element"]) == ("2050", "PaymentRefNum")


@pytest.mark.parametrize(
    "txn_date", ["2026-12-01", "2026-12-01T00:00:00", "2026-12-01T09:30:00-08:00"]
)
async def test_i13_a_date_or_date_time_is_taken_as_its_date(qbo: Qbo, txn_date: str) -> None:
    response = await _invoice(qbo, TxnDate=txn_date)
    assert response.status_code == 200, response.text
    assert response.json()["Invoice"]["TxnDate"] == "2026-12-01"


@pytest.mark.parametrize(
    "txn_date", ["2026-12-01junk", "01/12/2026", "20261201", "2026-13-01", "2026-12-1"]
)
async def test_i13_any_other_date_is_2070(qbo: Qbo, txn_date: str) -> None:
    error = _fault(await _invoice(qbo, TxnDate=txn_date))
    assert (error["code"], error["element"]) == ("2070", "TxnDate")
