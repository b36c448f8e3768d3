"""Issue 9, B8: multicurrency the way QBO answers it, and a Canadian company's line tax codes (see
choices.MULTICURRENCY and choices.CANADIAN_TAX_CODES)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.emulator.conftest import Qbo


def _line(item_id: str, amount: str, tax_code: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item_id}}
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": detail}


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


async def test_b8_an_invoice_to_a_eur_customer_is_in_eur_with_home_amounts(make_qbo: Any) -> None:
    qbo: Qbo = await make_qbo(multicurrency=True)
    prefs = (await qbo.client.get(qbo.url("preferences"))).json()["Preferences"]["CurrencyPrefs"]
    assert prefs == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}
    listed = await qbo.query("select * from CompanyCurrency where Code = 'EUR'")
    assert [c["Name"] for c in listed["QueryResponse"]["CompanyCurrency"]] == ["Euro"]
    unknown = await qbo.post("companycurrency", {"Code": "ZZZ"})
    assert unknown.status_code == 400
    euro = await qbo.create(
        "Customer", {"DisplayName": "Berlin Events", "CurrencyRef": {"value": "EUR"}}
    )
    assert euro["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
    item = await qbo.service_item(taxable=False)
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": euro["Id"]},
            "ExchangeRate": "1.10",
            "Line": [_line(item["Id"], "200.00")],
        },
    )
    assert invoice["CurrencyRef"]["value"] == "EUR"
    assert _money(invoice["ExchangeRate"]) == Decimal("1.10")
    assert _money(invoice["TotalAmt"]) == Decimal(200)
    assert _money(invoice["HomeTotalAmt"]) == Decimal(220)
    assert _money(invoice["HomeBalance"]) == Decimal(220)
    assert invoice["LinkedTxn"] == []
    payment = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": euro["Id"]},
            "TotalAmt": "50",
            "ExchangeRate": "1.10",
            "Line": [
                {"Amount": "50", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert payment["CurrencyRef"]["value"] == "EUR"
    read = (await qbo.client.get(qbo.url(f"invoice/{invoice['Id']}"))).json()["Invoice"]
    assert (_money(read["Balance"]), _money(read["HomeBalance"])) == (Decimal(150), Decimal(165))
    assert read["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    # a home-currency customer's invoice: rate 1
    local = await qbo.customer("Local")
    home = await qbo.create(
        "Invoice", {"CustomerRef": {"value": local["Id"]}, "Line": [_line(item["Id"], "10")]}
    )
    assert (home["CurrencyRef"]["value"], _money(home["ExchangeRate"])) == ("USD", Decimal(1))
    # the transaction's currency is its customer's
    wrong = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": euro["Id"]},
            "CurrencyRef": {"value": "USD"},
            "Line": [_line(item["Id"], "10")],
        },
    )
    assert wrong.status_code == 400
    assert (
        "must be the currency of Berlin Events (EUR)" in wrong.json()["Fault"]["Error"][0]["Detail"]
    )
    # a name's currency is fixed
    changed = await qbo.post(
        "customer",
        {
            "Id": euro["Id"],
            "SyncToken": euro["SyncToken"],
            "sparse": True,
            "CurrencyRef": {"value": "USD"},
        },
    )
    assert changed.status_code == 400


async def test_b8_a_single_currency_company_refuses_foreign_currencies(qbo: Qbo) -> None:
    no_list = await qbo.post("companycurrency", {"Code": "EUR"})
    assert "Multicurrency is not turned on" in no_list.json()["Fault"]["Error"][0]["Detail"]
    refused = await qbo.post("customer", {"DisplayName": "Paris", "CurrencyRef": {"value": "EUR"}})
    assert refused.status_code == 400
    assert "Multicurrency is not turned on" in refused.json()["Fault"]["Error"][0]["Detail"]
    customer = await qbo.customer()
    item = await qbo.service_item(taxable=False)
    invoice = await qbo.create(
        "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_line(item["Id"], "10")]}
    )
    assert invoice["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert "ExchangeRate" not in invoice and "HomeBalance" not in invoice
    assert invoice["LinkedTxn"] == []


async def test_b8_canadian_invoice_with_line_tax_codes_and_prorated_discount(make_qbo: Any) -> None:
    qbo: Qbo = await make_qbo(country="CA", name="Sandbox Company CA")
    prefs = (await qbo.client.get(qbo.url("preferences"))).json()["Preferences"]["CurrencyPrefs"]
    assert prefs["HomeCurrency"] == {"value": "CAD"}
    hst, gst_pst, exempt = (qbo.tax_code_id(n) for n in ("HST ON", "GST/PST BC", "Exempt"))
    customer = await qbo.customer()
    assert customer["CurrencyRef"]["value"] == "CAD"
    item = await qbo.service_item()
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                _line(item["Id"], "100.00", hst),
                _line(item["Id"], "200.00", gst_pst),
                _line(item["Id"], "100.00", exempt),
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
                },
            ],
        },
    )
    codes = [
        line["SalesItemLineDetail"]["TaxCodeRef"]["value"]
        for line in invoice["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]
    assert codes == [hst, gst_pst, exempt]
    assert "TxnTaxCodeRef" not in invoice["TxnTaxDetail"]
    taxes = {
        line["TaxLineDetail"]["TaxPercent"]: (
            _money(line["TaxLineDetail"]["NetAmountTaxable"]),
            _money(line["Amount"]),
        )
        for line in invoice["TxnTaxDetail"]["TaxLine"]
    }
    # 10 % discount prorated: HST on 90, GST and PST on 180, nothing on the exempt line
    assert taxes == {
        13: (Decimal(90), Decimal("11.70")),
        5: (Decimal(180), Decimal("9.00")),
        7: (Decimal(180), Decimal("12.60")),
    }
    assert _money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("33.30")
    assert _money(invoice["TotalAmt"]) == Decimal("393.30")  # 400 - 40 + 33.30
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"
    us_style = await qbo.post(
        "invoice",
        {"CustomerRef": {"value": customer["Id"]}, "Line": [_line(item["Id"], "10", "TAX")]},
    )
    assert us_style.json()["Fault"]["Error"][0]["code"] == "6100"
    untaxed = await qbo.post(
        "invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_line(item["Id"], "10")]}
    )
    assert untaxed.status_code == 400


async def test_b8_us_lines_still_refuse_tax_code_ids(qbo: Qbo) -> None:
    customer = await qbo.customer()
    item = await qbo.service_item()
    refused = await qbo.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [_line(item["Id"], "10", qbo.tax_code_id("State 6%"))],
        },
    )
    assert refused.json()["Fault"]["Error"][0]["code"] == "6100"
