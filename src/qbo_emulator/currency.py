"""Home currency and multicurrency (choices.MULTICURRENCY): a document is in its customer's or
vendor's currency, with an ExchangeRate to the home currency and its amounts in home currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qbo_emulator import choices, faults, wire
from qbo_emulator.books import Company, Entity

NAMES = {
    "USD": "United States Dollar", "CAD": "Canadian Dollar", "EUR": "Euro",
    "GBP": "British Pound Sterling", "AUD": "Australian Dollar", "MXN": "Mexican Peso",
}  # fmt: skip
ONE = Decimal(1)


def currency_ref(code: str) -> dict[str, str]:
    return {"value": code, "name": NAMES.get(code, code)}


def home(company: Company) -> str:
    prefs = company.preferences.get("CurrencyPrefs", {})
    return str((prefs.get("HomeCurrency") or {}).get("value") or "USD")


def multicurrency(company: Company) -> bool:
    return bool(company.preferences.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled"))


def _code(value: Any) -> str | None:
    return str(value["value"]).upper() if isinstance(value, dict) and value.get("value") else None


def party_currency(company: Company, doc: Entity, old: Entity | None) -> None:
    """A customer's or vendor's CurrencyRef: the home currency unless multicurrency is on; a
    known currency; fixed once the name exists."""
    sent = _code(doc.get("CurrencyRef"))
    before = _code((old or {}).get("CurrencyRef"))
    code = sent or before or home(company)
    if code != home(company):
        if not multicurrency(company):
            raise faults.business(
                "Multicurrency is not turned on for this company: "
                f"CurrencyRef must be {home(company)}",
                code=choices.CURRENCY_REFUSED_CODE,
            )
        if not any(c.get("Active") is not False for c in _listed(company, code)):
            raise faults.invalid_reference("Currency", code)
    if before is not None and code != before:
        raise faults.business(
            f"You can't change the currency of a name that exists ({before} to {code})",
            code=choices.CURRENCY_REFUSED_CODE,
        )
    doc["CurrencyRef"] = currency_ref(code)


def _listed(company: Company, code: str) -> list[Entity]:
    return [c for c in company.table("CompanyCurrency").values() if c.get("Code") == code]


def company_currency(company: Company, doc: Entity, own: str | None) -> None:
    """A CompanyCurrency adds a currency the company's names may use (multicurrency only)."""
    if not multicurrency(company):
        raise faults.business(
            "Multicurrency is not turned on for this company", code=choices.CURRENCY_REFUSED_CODE
        )
    code = str(doc["Code"]).upper()
    if code not in NAMES or code == home(company):
        raise faults.invalid_value("Code", f"Invalid currency code {code}", "2050")
    if any(other["Id"] != own for other in _listed(company, code)):
        raise faults.duplicate_name(code, _listed(company, code)[0]["Id"])
    doc["Code"] = code
    doc["Name"] = NAMES[code]


def txn_currency(company: Company, doc: Entity, party: Entity | None) -> None:
    """The document's currency is its party's (a different CurrencyRef sent is refused) and its
    ExchangeRate is 1 for the home currency, else the one sent or the company's rate."""
    party_code = _code((party or {}).get("CurrencyRef"))
    sent = _code(doc.get("CurrencyRef"))
    code = party_code or sent or home(company)
    if sent and sent != code:
        raise faults.business(
            f"The currency of the transaction ({sent}) must be the currency of "
            f"{(party or {}).get('DisplayName', 'its name')} ({code})",
            code=choices.CURRENCY_REFUSED_CODE,
        )
    if code != home(company) and not multicurrency(company):
        raise faults.business(
            f"Multicurrency is not turned on for this company: CurrencyRef must be {home(company)}",
            code=choices.CURRENCY_REFUSED_CODE,
        )
    doc["CurrencyRef"] = currency_ref(code)
    if not multicurrency(company):
        doc.pop("ExchangeRate", None)
        return
    if code == home(company):
        doc["ExchangeRate"] = ONE
        return
    rate = wire.to_decimal(doc.get("ExchangeRate"))
    if rate is None:
        rate = choices.DEFAULT_EXCHANGE_RATES.get(code)
    if rate is None or rate <= 0:
        raise faults.invalid_value("ExchangeRate", f"Invalid ExchangeRate for {code}", "2090")
    doc["ExchangeRate"] = rate


def home_amounts(company: Company, doc: Entity) -> None:
    """HomeTotalAmt always; HomeBalance (multicurrency only) follows Balance."""
    rate = wire.to_decimal(doc.get("ExchangeRate")) or ONE
    if "TotalAmt" in doc:
        doc["HomeTotalAmt"] = wire.cents((wire.to_decimal(doc["TotalAmt"]) or Decimal(0)) * rate)
    if multicurrency(company) and "Balance" in doc:
        doc["HomeBalance"] = wire.cents((wire.to_decimal(doc["Balance"]) or Decimal(0)) * rate)
    else:
        doc.pop("HomeBalance", None)  # a client may send one; QBO answers it only then
