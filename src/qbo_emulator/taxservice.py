"""POST /taxservice/taxcode: the only way to create tax codes and rates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qbo_emulator import faults, wire
from qbo_emulator.books import Company, ref


def create_tax_code(company: Company, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    name = body.get("TaxCode")
    if not name:
        raise faults.missing_param("TaxCode")
    details = body.get("TaxRateDetails")
    if not isinstance(details, list) or not details:
        raise faults.missing_param("TaxRateDetails")
    for code in company.table("TaxCode").values():
        if str(code.get("Name", "")).lower() == str(name).lower():
            raise faults.duplicate_name(str(name), code["Id"])
    rates, out_details = [], []
    for detail in details:
        if detail.get("TaxRateId"):
            rate = company.require("TaxRate", str(detail["TaxRateId"]), "TaxRateId")
        else:
            agency_id = str(detail.get("TaxAgencyId", ""))
            company.require("TaxAgency", agency_id, "TaxAgencyId")
            value = wire.to_decimal(detail.get("RateValue"))
            if value is None or not detail.get("TaxRateName"):
                raise faults.missing_param("RateValue" if value is None else "TaxRateName")
            rate = company.insert(
                "TaxRate",
                {
                    "Name": str(detail["TaxRateName"]),
                    "Description": str(detail["TaxRateName"]),
                    "Active": True,
                    "RateValue": value,
                    "AgencyRef": {"value": agency_id},
                    "SpecialTaxType": "NONE",
                    "DisplayType": "ReadOnly",
                },
                now,
            )
        rates.append(rate)
        out_details.append(
            {
                "TaxRateName": rate["Name"],
                "TaxRateId": rate["Id"],
                "RateValue": rate["RateValue"],
                "TaxAgencyId": rate["AgencyRef"]["value"],
                "TaxApplicableOn": str(detail.get("TaxApplicableOn", "Sales")),
            }
        )
    code = company.insert(
        "TaxCode",
        {
            "Name": str(name),
            "Description": str(name),
            "Active": True,
            "Hidden": False,
            "Taxable": True,
            "TaxGroup": len(rates) > 1,
            "SalesTaxRateList": {
                "TaxRateDetail": [
                    {"TaxRateRef": ref(r), "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
                    for r in rates
                ]
            },
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        },
        now,
    )
    return {"TaxCode": code["Name"], "TaxCodeId": code["Id"], "TaxRateDetails": out_details}
