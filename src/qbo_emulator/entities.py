"""What each QBO entity is: its kind, required fields and the fields a request may carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

COMMON: Final = frozenset(
    {"Id", "SyncToken", "sparse", "domain", "MetaData", "status", "CustomField", "AttachableRef"}
)
TXN_COMMON: Final = frozenset(
    {
        "DocNumber", "TxnDate", "PrivateNote", "Line", "LinkedTxn", "CurrencyRef",
        "ExchangeRate",
        "TxnStatus", "DepartmentRef", "TxnSource", "TotalAmt", "HomeTotalAmt",
        "TransactionLocationType",
        "GlobalTaxCalculation", "TxnTaxDetail", "RecurDataRef", "TaxExemptionRef", "ProjectRef",
    }
)  # fmt: skip
SALES: Final = TXN_COMMON | frozenset(
    {
        "CustomerRef", "CustomerMemo", "BillAddr", "ShipAddr", "ShipFromAddr", "ClassRef",
        "SalesTermRef", "DueDate", "ShipMethodRef", "ShipDate", "TrackingNum", "PrintStatus",
        "EmailStatus", "BillEmail", "BillEmailCc", "BillEmailBcc", "Balance",
        "ApplyTaxAfterDiscount",
        "DepositToAccountRef", "Deposit", "AllowIPNPayment", "AllowOnlinePayment",
        "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment", "DeliveryInfo", "HomeBalance",
        "PaymentMethodRef", "PaymentRefNum", "PaymentType", "CreditCardPayment", "CheckPayment",
        "RemainingCredit", "InvoiceLink", "FreeFormAddress", "TaxFormNum", "TaxFormType",
    }
)  # fmt: skip
PURCHASE: Final = TXN_COMMON | frozenset(
    {
        "VendorRef", "APAccountRef", "SalesTermRef", "DueDate", "Balance", "HomeBalance",
        "VendorAddr", "ShipAddr", "ShipMethodRef", "POStatus", "POEmail", "ManuallyClosed", "Memo",
        "ClassRef", "EmailStatus", "PrintStatus", "PayType", "CheckPayment", "CreditCardPayment",
        "PaymentMethodRef", "GlobalTaxCalculation", "POMessage", "ProcessBillPayment",
    }
)  # fmt: skip
PERSON: Final = frozenset(
    {
        "DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
        "PrintOnCheckName", "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
        "PrimaryEmailAddr", "WebAddr", "BillAddr", "ShipAddr", "OtherAddr", "Notes", "Balance",
        "BalanceWithJobs", "OpenBalanceDate", "CurrencyRef", "PreferredDeliveryMethod",
        "ResaleNum", "Taxable", "DefaultTaxCodeRef", "SalesTermRef", "PaymentMethodRef", "Job",
        "ParentRef", "Level", "BillWithParent", "FullyQualifiedName", "TaxExemptionReasonId",
        "ARAccountRef", "PrimaryTaxIdentifier", "SecondaryTaxIdentifier", "TermRef", "AcctNum",
        "Vendor1099", "APAccountRef", "TaxIdentifier", "BillRate", "CostRate", "GSTIN",
        "BusinessNumber", "IsProject", "ClientEntityId", "V4IDPseudonym", "TaxReportingBasis",
        "VendorPaymentBankDetail", "HasTPAR", "T4AEligible", "T5018Eligible", "Source",
        "CustomerTypeRef", "GSTRegistrationType", "ShipAddrs",
    }
)  # fmt: skip
ITEM: Final = frozenset(
    {
        "Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level",
        "FullyQualifiedName", "Taxable", "SalesTaxIncluded", "UnitPrice", "Type",
        "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost",
        "ExpenseAccountRef", "AssetAccountRef", "PrefVendorRef", "TrackQtyOnHand", "QtyOnHand",
        "QtyOnPurchaseOrder", "QtyOnSalesOrder", "InvStartDate", "ReorderPoint", "SalesTaxCodeRef",
        "PurchaseTaxCodeRef", "ClassRef", "AbatementRate", "ReverseChargeRate", "ServiceType",
        "ItemCategoryType", "ItemEx", "TaxClassificationRef", "UQCDisplayText", "UQCId",
        "Source", "DeferredRevenue",
    }
)  # fmt: skip
ACCOUNT: Final = frozenset(
    {
        "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName", "Active",
        "Classification", "AccountType", "AccountSubType", "AcctNum", "CurrentBalance",
        "CurrentBalanceWithSubAccounts", "CurrencyRef", "TaxCodeRef", "AccountAlias",
        "TxnLocationType", "OpeningBalance", "OpeningBalanceDate",
    }
)  # fmt: skip

TERM: Final = frozenset(
    {
        "Name", "Active", "Type", "DueDays", "DiscountPercent", "DiscountDays", "DayOfMonthDue",
        "DueNextMonthDays", "DiscountDayOfMonth",
    }
)  # fmt: skip
# Class, Department: a tree of names (SubClass/SubDepartment with ParentRef).
SEGMENT: Final = frozenset(
    {"Name", "Active", "ParentRef", "FullyQualifiedName", "SubClass", "SubDepartment"}
)
ESTIMATE: Final = frozenset({"ExpirationDate", "AcceptedBy", "AcceptedDate"})
JOURNAL: Final = TXN_COMMON | frozenset({"Adjustment"})
DEPOSIT: Final = TXN_COMMON | frozenset({"DepositToAccountRef", "CashBack"})
CASH_PURCHASE: Final = PURCHASE | frozenset(
    {"AccountRef", "PaymentType", "EntityRef", "Credit", "RemitToAddr"}
)

TAX_AGENCY: Final = frozenset(
    {
        "DisplayName", "TaxRegistrationNumber", "TaxTrackedOnSales", "TaxTrackedOnPurchases",
        "TaxAgencyConfig", "Active",
    }
)  # fmt: skip
TAX_CODE: Final = frozenset(
    {
        "Name", "Description", "Active", "Hidden", "Taxable", "TaxGroup", "SalesTaxRateList",
        "PurchaseTaxRateList", "AdjustmentTaxRateList", "TaxCodeConfigType",
    }
)  # fmt: skip
TAX_RATE: Final = frozenset(
    {
        "Name", "Description", "Active", "RateValue", "AgencyRef", "TaxReturnLineRef",
        "SpecialTaxType", "DisplayType", "EffectiveTaxRate",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str  # "list" | "txn" | "tax" | "company"
    fields: frozenset[str]
    required: tuple[str, ...] = ()
    deletable: bool = False
    void: str | None = None  # "operation" (Invoice) | "include" (Payment, BillPayment)
    plus_only: bool = False
    writable: bool = True


SPECS: Final = {
    spec.name: spec
    for spec in (
        Spec("Customer", "list", COMMON | PERSON),
        Spec("Vendor", "list", COMMON | PERSON),
        Spec("Employee", "list", COMMON | PERSON),
        Spec("Item", "list", COMMON | ITEM, ("Name",)),
        Spec("Account", "list", COMMON | ACCOUNT, ("Name",)),
        Spec("PaymentMethod", "list", COMMON | frozenset({"Name", "Active", "Type"}), ("Name",)),
        Spec("Term", "list", COMMON | TERM, ("Name",)),
        Spec("Class", "list", COMMON | SEGMENT, ("Name",)),
        Spec("Department", "list", COMMON | SEGMENT, ("Name",)),
        Spec("CustomerType", "list", COMMON | frozenset({"Name", "Active"}), ("Name",)),
        Spec("CompanyCurrency", "list", COMMON | frozenset({"Code", "Name", "Active"}), ("Code",)),
        Spec("TaxAgency", "tax", COMMON | TAX_AGENCY, writable=False),
        Spec("TaxCode", "tax", COMMON | TAX_CODE, writable=False),
        Spec("TaxRate", "tax", COMMON | TAX_RATE, writable=False),
        Spec("Invoice", "txn", COMMON | SALES, ("CustomerRef", "Line"), True, "operation"),
        Spec("CreditMemo", "txn", COMMON | SALES, ("CustomerRef", "Line"), True),
        Spec("RefundReceipt", "txn", COMMON | SALES, ("Line", "DepositToAccountRef"), True),
        Spec("SalesReceipt", "txn", COMMON | SALES, ("Line",), True),
        Spec("Estimate", "txn", COMMON | SALES | ESTIMATE, ("CustomerRef", "Line"), True),
        Spec("JournalEntry", "txn", COMMON | JOURNAL, ("Line",), True),
        Spec("Deposit", "txn", COMMON | DEPOSIT, ("DepositToAccountRef", "Line"), True),
        Spec(
            "Payment",
            "txn",
            COMMON | SALES | frozenset({"UnappliedAmt", "ProcessPayment", "ARAccountRef"}),
            ("CustomerRef", "TotalAmt"),
            True,
            "include",
        ),
        Spec("Bill", "txn", COMMON | PURCHASE, ("VendorRef", "Line"), True),
        Spec("BillPayment", "txn", COMMON | PURCHASE, ("VendorRef", "PayType"), True, "include"),
        Spec("PurchaseOrder", "txn", COMMON | PURCHASE, ("VendorRef", "Line"), True, None, True),
        Spec("VendorCredit", "txn", COMMON | PURCHASE, ("VendorRef", "Line"), True),
        Spec(
            "Purchase", "txn", COMMON | CASH_PURCHASE, ("AccountRef", "PaymentType", "Line"), True
        ),
        Spec("CompanyInfo", "company", COMMON, writable=False),
        Spec("Preferences", "company", COMMON, writable=False),
    )
}
# URL segment (lower case) -> entity name
BY_SEGMENT: Final = {name.lower(): name for name in SPECS}
NAME_LISTS: Final = frozenset({"Customer", "Vendor", "Employee"})
SALES_TXNS: Final = frozenset(
    {"Invoice", "CreditMemo", "RefundReceipt", "SalesReceipt", "Estimate"}
)
# Simple named lists: a unique Name within the entity, nothing else shared.
NAMED_LISTS: Final = frozenset({"PaymentMethod", "Term", "Class", "Department", "CustomerType"})

# Properties a WHERE may name, per entity (choices.py: QUERY_FILTERABLE_SOURCE). Anything else the
# entity has -> 4001 "property 'X' is not queryable"; a name it does not have -> 4001 "Property X
# not found for Entity Y".
_META: Final = frozenset({"Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"})
_PERSON_FILTERS: Final = _META | frozenset(
    {
        "DisplayName", "GivenName", "MiddleName", "FamilyName", "Suffix", "CompanyName",
        "FullyQualifiedName", "PrintOnCheckName", "Active", "PrimaryEmailAddr",
        "PrimaryEmailAddr.Address", "Balance",
    }
)  # fmt: skip
_TXN_FILTERS: Final = _META | frozenset({"DocNumber", "TxnDate"})
FILTERABLE: Final[dict[str, frozenset[str]]] = {
    "Customer": _PERSON_FILTERS | frozenset({"Job", "ParentRef", "IsProject"}),
    "Vendor": _PERSON_FILTERS,
    "Employee": _PERSON_FILTERS,
    "Item": _META | frozenset({"Name", "Active", "Type", "Sku"}),
    "Account": _META | frozenset(
        {"Name", "Active", "AccountType", "AccountSubType", "Classification", "CurrentBalance",
         "FullyQualifiedName"}
    ),
    "PaymentMethod": _META | frozenset({"Name", "Active", "Type"}),
    "Term": _META | frozenset({"Name", "Active", "Type", "DueDays"}),
    "Class": _META | frozenset({"Name", "Active", "FullyQualifiedName", "ParentRef", "SubClass"}),
    "Department": _META | frozenset(
        {"Name", "Active", "FullyQualifiedName", "ParentRef", "SubDepartment"}
    ),
    "CustomerType": _META | frozenset({"Name", "Active"}),
    "CompanyCurrency": _META | frozenset({"Code", "Name", "Active"}),
    "TaxAgency": _META | frozenset({"DisplayName"}),
    "TaxCode": _META | frozenset({"Name", "Active", "Hidden", "Taxable"}),
    "TaxRate": _META | frozenset({"Name", "Active", "RateValue", "AgencyRef"}),
    "Invoice": _TXN_FILTERS | frozenset({"CustomerRef", "DueDate", "TotalAmt", "Balance"}),
    "CreditMemo": _TXN_FILTERS | frozenset({"CustomerRef", "TotalAmt", "Balance"}),
    "RefundReceipt": _TXN_FILTERS | frozenset({"CustomerRef", "TotalAmt"}),
    "SalesReceipt": _TXN_FILTERS | frozenset({"CustomerRef", "TotalAmt"}),
    "Estimate": _TXN_FILTERS | frozenset({"CustomerRef", "TotalAmt", "TxnStatus"}),
    "JournalEntry": _TXN_FILTERS | frozenset({"TotalAmt"}),
    "Deposit": _TXN_FILTERS | frozenset({"DepositToAccountRef"}),
    "VendorCredit": _TXN_FILTERS | frozenset({"VendorRef", "TotalAmt", "Balance"}),
    "Purchase": _TXN_FILTERS | frozenset({"AccountRef", "PaymentType", "TotalAmt"}),
    "Payment": _META | frozenset({"TxnDate", "CustomerRef", "TotalAmt", "PaymentRefNum"}),
    "Bill": _TXN_FILTERS | frozenset({"VendorRef", "DueDate", "TotalAmt", "Balance"}),
    "BillPayment": _TXN_FILTERS | frozenset({"VendorRef", "TotalAmt", "PayType"}),
    "PurchaseOrder": _TXN_FILTERS | frozenset({"VendorRef", "TotalAmt", "POStatus"}),
    "CompanyInfo": _META,
    "Preferences": _META,
}  # fmt: skip


# The longest strings QBO stores, from Intuit's API reference (each entity's field table: "max N
# characters"); a longer one is refused with 2050 "String length ... Min:0 Max:N supported.
# Supplied length:M" (reference §2). A path "A.B" is field B of object A; "Line.Description" is
# every line's. The phone limit is also in third-party SDKs mirroring the reference (30); the
# DocNumber limit (21) is checked with the number itself (operations, choices).
_ADDRESS_LIMITS: Final = {
    **{f"Line{n}": 500 for n in range(1, 6)},
    "City": 255,
    "Country": 255,
    "CountrySubDivisionCode": 255,
    "PostalCode": 30,
}
_TXN_LIMITS: Final = {
    "PrivateNote": 4000,
    "Line.Description": 4000,
    "CustomerMemo.value": 1000,
    "PaymentRefNum": 21,
    **{f"{a}.{k}": n for a in ("BillAddr", "ShipAddr") for k, n in _ADDRESS_LIMITS.items()},
}
_PERSON_LIMITS: Final = {
    "DisplayName": 500,
    "Title": 16,
    "GivenName": 100,
    "MiddleName": 100,
    "FamilyName": 100,
    "Suffix": 16,
    "CompanyName": 100,
    "PrintOnCheckName": 110,
    "Notes": 2000,
    "PrimaryEmailAddr.Address": 100,
    **{f"{p}.FreeFormNumber": 30 for p in ("PrimaryPhone", "AlternatePhone", "Mobile", "Fax")},
    **{f"{a}.{k}": n for a in ("BillAddr", "ShipAddr") for k, n in _ADDRESS_LIMITS.items()},
}
STRING_LIMITS: Final[dict[str, dict[str, int]]] = {
    "Customer": _PERSON_LIMITS,
    "Vendor": {**_PERSON_LIMITS, "TaxIdentifier": 20, "AcctNum": 100},
    "Employee": _PERSON_LIMITS,
    "Item": {"Name": 100, "Sku": 100, "Description": 4000, "PurchaseDesc": 1000},
    **{
        name: _TXN_LIMITS
        for name in (
            "Invoice", "CreditMemo", "RefundReceipt", "SalesReceipt", "Estimate", "Payment",
            "Bill", "BillPayment", "PurchaseOrder", "VendorCredit", "Purchase", "Deposit",
            "JournalEntry",
        )
    },
}  # fmt: skip
