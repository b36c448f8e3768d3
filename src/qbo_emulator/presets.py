"""Company presets: a seeded chart of accounts, sales tax setup, payment methods, preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from qbo_emulator import choices
from qbo_emulator.books import Company, Entity, new_realm_id, ref
from qbo_emulator.currency import NAMES as CURRENCY_NAMES
from qbo_emulator.currency import currency_ref

ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # key, Name, AccountType, AccountSubType
    ("income", "Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("services", "Services", "Income", "ServiceFeeIncome"),
    ("discounts", "Discounts given", "Income", "DiscountsRefundsGiven"),
    ("cogs", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("inventory", "Inventory Asset", "Other Current Asset", "Inventory"),
    ("ar", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("ap", "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("bank", "Checking", "Bank", "Checking"),
    ("card", "Mastercard", "Credit Card", "CreditCard"),
    ("undeposited", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("tax_payable", "Sales Tax Payable", "Other Current Liability", "GlobalTaxPayable"),
    ("expense", "Equipment Rental", "Expense", "EquipmentRental"),
)
CLASSIFICATION = {
    "Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Current Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Bank": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
}
# The terms a new QBO company holds (name, DueDays), seeded after everything else so the Ids of
# the accounts, tax setup and company objects are unchanged.
TERMS = (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60))
PAYMENT_METHODS = (
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
)


@dataclass(frozen=True)
class Preset:
    plan: str = "plus"  # "plus" | "essentials"
    country: str = "US"
    ast: bool = False
    book_close_date: str | None = None
    name: str = "Sandbox Company US"
    realm_id: str | None = None
    timezone: str = choices.DEFAULT_TIMEZONE
    ast_rate: Decimal = choices.AST_DEFAULT_RATE
    custom_txn_numbers: bool = False
    multicurrency: bool = False
    currency: str | None = None  # home currency; default CAD for a Canadian company, else USD

    @property
    def home_currency(self) -> str:
        return (self.currency or ("CAD" if self.country == "CA" else "USD")).upper()

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Preset:
        plan = str(body.get("plan", "plus")).lower()
        if plan not in {"plus", "essentials"}:
            raise ValueError("plan must be plus or essentials")
        return cls(
            plan=plan,
            country=str(body.get("country", "US")),
            ast=bool(body.get("ast", False)),
            book_close_date=body.get("book_close_date"),
            name=str(body.get("name", cls.name)),
            realm_id=str(body["realm_id"]) if body.get("realm_id") else None,
            timezone=str(body.get("timezone", choices.DEFAULT_TIMEZONE)),
            ast_rate=Decimal(str(body.get("ast_rate", choices.AST_DEFAULT_RATE))),
            custom_txn_numbers=bool(body.get("custom_txn_numbers", False)),
            multicurrency=bool(body.get("multicurrency", False)),
            currency=str(body["currency"]) if body.get("currency") else None,
        )


def build_company(preset: Preset, now: datetime) -> Company:
    company = Company(
        realm_id=preset.realm_id or new_realm_id(),
        name=preset.name,
        plan=preset.plan,
        country=preset.country,
        ast=preset.ast,
        tz=ZoneInfo(preset.timezone),
    )
    for key, name, account_type, sub_type in ACCOUNTS:
        account: dict[str, Any] = {
            "Name": name,
            "FullyQualifiedName": name,
            "SubAccount": False,
            "Active": True,
            "Classification": CLASSIFICATION[account_type],
            "AccountType": account_type,
            "AccountSubType": sub_type,
            "CurrentBalance": Decimal(0),
            "CurrentBalanceWithSubAccounts": Decimal(0),
            "CurrencyRef": currency_ref(preset.home_currency),
        }
        company.insert("Account", account, now)
        company.preset_accounts[key] = account["Id"]
    for name, kind in PAYMENT_METHODS:
        company.insert("PaymentMethod", {"Name": name, "Active": True, "Type": kind}, now)
    _seed_tax(company, preset, now)
    company.preferences = _preferences(preset)
    company.insert("Preferences", company.preferences, now, entity_id="1")
    company.company_info = _company_info(company, preset)
    company.insert("CompanyInfo", company.company_info, now, entity_id="1")
    for name, days in TERMS:
        term = {"Name": name, "Active": True, "Type": "STANDARD", "DueDays": days}
        company.insert("Term", {**term, "DiscountPercent": Decimal(0), "DiscountDays": 0}, now)
    if preset.multicurrency:
        for code in sorted(set(choices.DEFAULT_EXCHANGE_RATES) - {preset.home_currency}):
            listed = {"Code": code, "Name": CURRENCY_NAMES[code], "Active": True}
            company.insert("CompanyCurrency", listed, now)
    return company


# A Canadian company's sales tax (choices.CANADIAN_TAX_CODES): agency, rate name, percent.
CA_RATES = (
    ("Canada Revenue Agency", "GST", Decimal(5)),
    ("Canada Revenue Agency", "HST ON", Decimal(13)),
    ("Canada Revenue Agency", "GST zero-rated", Decimal(0)),
    ("Minister of Finance (BC)", "PST BC", Decimal(7)),
)
CA_CODES = (
    ("GST", ("GST",)),
    ("HST ON", ("HST ON",)),
    ("PST BC", ("PST BC",)),
    ("GST/PST BC", ("GST", "PST BC")),
    ("Zero-rated", ("GST zero-rated",)),
    ("Exempt", ()),
)


def _seed_canadian_tax(company: Company, now: datetime) -> None:
    agencies: dict[str, Entity] = {}
    rates: dict[str, Entity] = {}
    for agency_name, rate_name, percent in CA_RATES:
        if agency_name not in agencies:
            agencies[agency_name] = company.insert(
                "TaxAgency",
                {"DisplayName": agency_name, "TaxTrackedOnSales": True,
                 "TaxTrackedOnPurchases": True},
                now,
            )  # fmt: skip
        rates[rate_name] = _rate(company, rate_name, percent, agencies[agency_name], now)
    for code_name, rate_names in CA_CODES:
        code = _code(company, code_name, [rates[r] for r in rate_names], now)
        code["Taxable"] = bool(rate_names)


def _seed_tax(company: Company, preset: Preset, now: datetime) -> None:
    if preset.country == "CA":
        _seed_canadian_tax(company, now)
        return
    agency = company.insert(
        "TaxAgency",
        {
            "DisplayName": "Board of Equalization",
            "TaxTrackedOnSales": True,
            "TaxTrackedOnPurchases": False,
        },
        now,
    )
    state = _rate(company, "State", Decimal(6), agency, now)
    city = _rate(company, "City", Decimal(2), agency, now)
    _code(company, "Local 8%", [state, city], now)
    _code(company, "State 6%", [state], now)
    if preset.ast:
        ast_rate = _rate(company, "AST Combined", preset.ast_rate, agency, now)
        company.ast_code_id = _code(company, "Automated Sales Tax", [ast_rate], now)["Id"]


def _rate(company: Company, name: str, value: Decimal, agency: Entity, now: datetime) -> Entity:
    rate = {
        "Name": name,
        "Description": name,
        "Active": True,
        "RateValue": value,
        "AgencyRef": {"value": agency["Id"]},
        "SpecialTaxType": "NONE",
        "DisplayType": "ReadOnly",
    }
    return company.insert("TaxRate", rate, now)


def _code(company: Company, name: str, rates: list[Entity], now: datetime) -> Entity:
    code = {
        "Name": name,
        "Description": name,
        "Active": True,
        "Hidden": False,
        "Taxable": True,
        "TaxGroup": len(rates) > 1,
        "SalesTaxRateList": {
            "TaxRateDetail": [
                {"TaxRateRef": ref(rate), "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}
                for rate in rates
            ]
        },
        "PurchaseTaxRateList": {"TaxRateDetail": []},
    }
    return company.insert("TaxCode", code, now)


def _preferences(preset: Preset) -> Entity:
    plus = preset.plan == "plus"
    accounting: dict[str, Any] = {
        "TrackDepartments": False,
        "ClassTrackingPerTxn": False,
        "CustomerTerminology": "Customers",
    }
    if preset.book_close_date:
        accounting["BookCloseDate"] = preset.book_close_date
    return {
        "AccountingInfoPrefs": accounting,
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": plus,
        },
        "SalesFormsPrefs": {
            "CustomTxnNumbers": preset.custom_txn_numbers,
            "AllowDiscount": True,
            "AllowDeposit": False,
            "AllowShipping": False,
            "AutoApplyCredit": True,
            "AutoApplyPayments": True,
        },
        "VendorAndPurchasesPrefs": {"UsingInventory": plus, "POCustomField": []},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": preset.ast},
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": preset.multicurrency,
            "HomeCurrency": {"value": preset.home_currency},
        },
    }


def _company_info(company: Company, preset: Preset) -> Entity:
    sku = "QuickBooks Online Plus" if preset.plan == "plus" else "QuickBooks Online Essentials"
    return {
        "CompanyName": preset.name,
        "LegalName": preset.name,
        "CompanyAddr": {
            "Line1": "123 Sierra Way",
            "City": "San Pablo",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "87999",
        },
        "Country": preset.country,
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "NameValue": [
            {"Name": "OfferingSku", "Value": sku},
            {"Name": "PayrollFeature", "Value": "false"},
        ],
    }
