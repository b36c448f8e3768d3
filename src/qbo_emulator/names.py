"""Name-list entities: Customer, Vendor, Employee, Item, Account, PaymentMethod."""

from __future__ import annotations

import re
from decimal import Decimal

from qbo_emulator import choices, currency, faults, presets
from qbo_emulator.accounting import active_ref
from qbo_emulator.books import Company, Entity, ref
from qbo_emulator.entities import NAME_LISTS
from qbo_emulator.terms import check_term

ITEM_TYPES = {"Service", "NonInventory", "Inventory"}
PERSON_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")


DELETED = re.compile(r"^(?P<name>.*) \(deleted(?:-\d+)?\)$", re.DOTALL)
RENAMED_ON_DEACTIVATION = {
    "Customer": "DisplayName",
    "Vendor": "DisplayName",
    "Employee": "DisplayName",
    "Item": "Name",
    "Account": "Name",
}


def _key(name: str) -> str:
    return name.strip().lower() if choices.NAMES_CASE_INSENSITIVE else name.strip()


def _unique(
    company: Company, entities: tuple[str, ...], field: str, value: str, own: str | None
) -> None:
    wanted = _key(value)
    for entity in entities:
        for other in company.same_name(entity, field, value):
            if other["Id"] != own and _key(str(other.get(field, ""))) == wanted:
                raise faults.duplicate_name(value, other["Id"])


def _taken(company: Company, entity: str, field: str, value: str, own: str | None) -> bool:
    entities = tuple(sorted(NAME_LISTS)) if entity in NAME_LISTS else (entity,)
    return any(
        other["Id"] != own for kind in entities for other in company.same_name(kind, field, value)
    )


def _deactivation_name(
    company: Company, entity: str, doc: Entity, old: Entity | None, own: str | None
) -> None:
    """Making a name inactive renames it "<name> (deleted)" (then "(deleted-1)", ... if that is
    taken), which frees the name; making it active again takes the name back
    (choices.DEACTIVATION_RENAMES)."""
    field = RENAMED_ON_DEACTIVATION.get(entity)
    if field is None or old is None or not choices.DEACTIVATION_RENAMES:
        return
    was_active = old.get("Active") is not False
    name = doc.get(field)
    if was_active and doc.get("Active") is False and name:
        candidate, n = f"{name} (deleted)", 0
        while _taken(company, entity, field, candidate, own):
            n += 1
            candidate = f"{name} (deleted-{n})"
        doc[field] = candidate
    elif not was_active and doc.get("Active") is not False and name == old.get(field):
        match = DELETED.match(str(name))
        if match:
            doc[field] = match.group("name")


def normalize(
    company: Company, entity: str, doc: Entity, own: str | None, old: Entity | None = None
) -> None:
    doc.setdefault("Active", True)
    _deactivation_name(company, entity, doc, old, own)
    if entity in NAME_LISTS:
        _person(company, entity, doc, own, old)
    elif entity == "Item":
        _item(company, doc, own)
    elif entity == "Account":
        _account(company, doc, own)
    elif entity == "CompanyCurrency":
        currency.company_currency(company, doc, own)
    else:  # PaymentMethod, Term, Class, Department, CustomerType (entities.NAMED_LISTS)
        _unique(company, (entity,), "Name", str(doc["Name"]), own)
        if entity == "Term":
            check_term(doc)
        elif entity in SEGMENTS:
            _segment(company, entity, doc)


SEGMENTS = {"Class": "SubClass", "Department": "SubDepartment"}


def _segment(company: Company, entity: str, doc: Entity) -> None:
    """Class and Department form trees: a child names its parent (ParentRef) and its
    FullyQualifiedName is "Parent:Child"."""
    name = str(doc["Name"])
    if ":" in name:
        raise faults.invalid_value("Name", "Name cannot contain a colon (:)", "2040")
    parent_ref = doc.get("ParentRef")
    if parent_ref:
        parent = active_ref(company, entity, parent_ref, "ParentRef")
        doc["ParentRef"] = ref(parent)
        doc["FullyQualifiedName"] = f"{parent.get('FullyQualifiedName') or parent['Name']}:{name}"
        doc[SEGMENTS[entity]] = True
    else:
        doc.pop("ParentRef", None)
        doc["FullyQualifiedName"] = name
        doc[SEGMENTS[entity]] = False


def _person(
    company: Company, entity: str, doc: Entity, own: str | None, old: Entity | None
) -> None:
    if not doc.get("DisplayName"):
        parts = [str(doc[p]) for p in PERSON_PARTS if doc.get(p)]
        composed = " ".join(parts) or str(doc.get("CompanyName") or "")
        if not composed:
            raise faults.QboFault(
                "6080",
                "Missing Name",
                "You must specify a value for at least one of Title, GivenName, MiddleName, "
                "FamilyName, DisplayName or Suffix",
            )
        doc["DisplayName"] = composed
    name = str(doc["DisplayName"])
    if ":" in name:
        raise faults.invalid_value("DisplayName", "DisplayName cannot contain a colon (:)", "2040")
    _unique(company, tuple(sorted(NAME_LISTS)), "DisplayName", name, own)
    if entity == "Customer" and doc.get("CustomerTypeRef"):
        customer_type = active_ref(
            company, "CustomerType", doc["CustomerTypeRef"], "CustomerTypeRef"
        )
        doc["CustomerTypeRef"] = ref(customer_type)
    if entity == "Customer" and doc.get("SalesTermRef"):
        doc["SalesTermRef"] = ref(active_ref(company, "Term", doc["SalesTermRef"], "SalesTermRef"))
    doc.setdefault("PrintOnCheckName", name)
    doc["FullyQualifiedName"] = name
    if entity == "Customer":
        _balances_read_only(doc, old)
        doc.setdefault("Job", False)
        doc.setdefault("BillWithParent", False)
        doc.setdefault("Taxable", False)
        doc.setdefault("Balance", Decimal(0))
        doc.setdefault("BalanceWithJobs", Decimal(0))
        doc.setdefault("PreferredDeliveryMethod", "Print")
        if doc.get("ParentRef"):
            active_ref(company, "Customer", doc["ParentRef"], "ParentRef")
    elif entity == "Vendor":
        doc.setdefault("Vendor1099", False)
        doc.setdefault("Balance", Decimal(0))
    currency.party_currency(company, doc, old)


def _balances_read_only(doc: Entity, old: Entity | None) -> None:
    """A customer's Balance follows its documents (links.refresh_customer_balance); a write
    cannot set it (an opening balance is not modelled: a Balance sent on create is ignored)."""
    for field in ("Balance", "BalanceWithJobs"):
        doc[field] = (old or {}).get(field, Decimal(0))


def _item(company: Company, doc: Entity, own: str | None) -> None:
    _unique(company, ("Item",), "Name", str(doc["Name"]), own)
    kind = doc.get("Type")
    if not kind:
        raise faults.missing_param("Type")
    if kind not in ITEM_TYPES:
        raise faults.invalid_value("Type", f"Invalid Enumeration : {kind}", "2120")
    for field in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
        if doc.get(field):
            doc[field] = ref(active_ref(company, "Account", doc[field], field))
    if kind == "Service" and not doc.get("IncomeAccountRef"):
        raise faults.missing_param("IncomeAccountRef")
    if kind == "NonInventory" and not (doc.get("IncomeAccountRef") or doc.get("ExpenseAccountRef")):
        raise faults.missing_param("IncomeAccountRef")
    if kind == "Inventory":
        if company.plan != "plus" or not company.preferences.get("ProductAndServicesPrefs", {}).get(
            "QuantityOnHand"
        ):
            raise faults.plan_gated("Inventory tracking")
        if not doc.get("TrackQtyOnHand"):
            raise faults.business(
                "When you create an item, if Track quantity on hand is turned off, the item "
                "cannot be of type Inventory."
            )
        if not doc.get("InvStartDate"):
            raise faults.QboFault(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "As of date for initial quantity on hand is required",
                element="InvStartDate",
            )
        doc["InvStartDate"] = str(doc["InvStartDate"])[:10]
        for field in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
            if not doc.get(field):
                raise faults.missing_param(field)
        doc.setdefault("QtyOnHand", Decimal(0))
    else:
        doc["TrackQtyOnHand"] = False
    doc["FullyQualifiedName"] = doc["Name"]
    doc.setdefault("Taxable", False)
    doc.setdefault("UnitPrice", Decimal(0))
    doc.setdefault("PurchaseCost", Decimal(0))
    doc.setdefault("SubItem", False)
    if kind == "Service":
        doc.setdefault("DeferredRevenue", False)


def _account(company: Company, doc: Entity, own: str | None) -> None:
    _unique(company, ("Account",), "Name", str(doc["Name"]), own)
    account_type = doc.get("AccountType")
    if not account_type and doc.get("AccountSubType"):
        account_type = next((a[2] for a in presets.ACCOUNTS if a[3] == doc["AccountSubType"]), None)
    if not account_type:
        raise faults.QboFault(
            "6010", "Invalid account type", "You must select an account type", element="AccountType"
        )
    doc["AccountType"] = account_type
    doc.setdefault("Classification", presets.CLASSIFICATION.get(account_type, "Expense"))
    doc["FullyQualifiedName"] = doc["Name"]
    doc.setdefault("SubAccount", False)
    doc.setdefault("CurrentBalance", Decimal(0))
    doc.setdefault("CurrentBalanceWithSubAccounts", Decimal(0))
    doc.setdefault("CurrencyRef", currency.currency_ref(currency.home(company)))
