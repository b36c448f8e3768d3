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
        Spec("TaxAgency", "tax", COMMON | frozenset({"DisplayName"}), writable=False),
        Spec("TaxCode", "tax", COMMON, writable=False),
        Spec("TaxRate", "tax", COMMON, writable=False),
        Spec("Invoice", "txn", COMMON | SALES, ("CustomerRef", "Line"), True, "operation"),
        Spec("CreditMemo", "txn", COMMON | SALES, ("CustomerRef", "Line"), True),
        Spec("RefundReceipt", "txn", COMMON | SALES, ("Line", "DepositToAccountRef"), True),
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
        Spec("CompanyInfo", "company", COMMON, writable=False),
        Spec("Preferences", "company", COMMON, writable=False),
    )
}
# URL segment (lower case) -> entity name
BY_SEGMENT: Final = {name.lower(): name for name in SPECS}
NAME_LISTS: Final = frozenset({"Customer", "Vendor", "Employee"})
SALES_TXNS: Final = frozenset({"Invoice", "CreditMemo", "RefundReceipt"})
