"""Totals the way QBO computes them: SubTotal line, discounts, tax from the tax code's rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from qbo_emulator import choices, faults, wire
from qbo_emulator.books import Company, Entity, ref

ZERO = Decimal(0)
HUNDRED = Decimal(100)
ITEM_LINE = "SalesItemLineDetail"


def active_ref(company: Company, entity: str, value: Any, element: str) -> Entity:
    """Resolve a reference: unknown -> 2500, inactive -> 610."""
    ref_id = value.get("value") if isinstance(value, dict) else None
    if not ref_id:
        raise faults.missing_param(element)
    found = company.get(entity, str(ref_id))
    if found is None:
        raise faults.invalid_reference(entity, str(ref_id), element)
    if found.get("Active") is False:
        raise faults.not_found(entity, str(ref_id), element)
    return found


def as_date(value: Any, element: str) -> str | None:
    """A date or date-time as QBO stores a date: YYYY-MM-DD (choices.DATES_STORED_AS_DATES)."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise faults.invalid_value(element, f"Invalid date {value}", "2070") from None


def money(value: Any, element: str) -> Decimal:
    amount = wire.to_decimal(value)
    if amount is None:
        raise faults.invalid_value(element, f"Invalid Number: {element}={value}", "2090")
    return amount


def _line_amount(line: Entity, detail: Entity, element: str) -> Decimal:
    qty = wire.to_decimal(detail.get("Qty"))
    price = wire.to_decimal(detail.get("UnitPrice"))
    if line.get("Amount") is None:
        if qty is None or price is None:
            raise faults.missing_param("Amount")
        return wire.cents(qty * price)
    amount = wire.cents(money(line["Amount"], "Amount"))
    # python-quickbooks sends Qty 0 / UnitPrice 0 by default; QBO accepts those lines.
    if qty and price and wire.cents(qty * price) != amount:
        raise faults.business(
            f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}", code="6070"
        )
    return amount


def line_ids(lines: list[Entity], old: Entity | None) -> None:
    """Line Ids the way QBO keeps them (choices.LINE_IDS_KEPT_ON_UPDATE): on an update a line
    sent with the Id of one of the stored lines keeps it; any other line (no Id, Id <= 0, unknown,
    repeated) gets a new Id above the highest stored one. A create numbers lines 1..n. LineNum is
    the position."""
    stored = {str(line["Id"]) for line in (old or {}).get("Line", []) or [] if line.get("Id")}
    next_id = max((int(i) for i in stored if i.isdigit()), default=0) + 1
    taken: set[str] = set()
    for number, line in enumerate(lines, start=1):
        sent = str(line["Id"]) if line.get("Id") is not None else None
        if sent is not None and sent in stored and sent not in taken:
            taken.add(sent)
        else:
            line["Id"] = str(next_id)
            next_id += 1
        line["LineNum"] = number


def sales_lines(
    company: Company, doc: Entity, old: Entity | None = None
) -> tuple[Decimal, Decimal, Decimal]:
    """Validate and number lines; returns (subtotal, taxable, discount)."""
    lines = doc.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.missing_param("Line")
    items: list[Entity] = []
    discounts: list[Entity] = []
    for raw in lines:
        if not isinstance(raw, dict):
            raise faults.invalid_value("Line", "Line must be an object")
        kind = raw.get("DetailType")
        if not kind:
            raise faults.missing_param("DetailType")
        if kind == "SubTotalLineDetail":
            continue
        if kind == "DiscountLineDetail":
            discounts.append(dict(raw))
        elif kind in {ITEM_LINE, "DescriptionOnly"}:
            items.append(dict(raw))
        else:
            raise faults.invalid_value("DetailType", f"Unsupported line DetailType {kind}", "2120")
    if not any(line["DetailType"] == ITEM_LINE for line in items):
        raise faults.missing_param("Line")
    subtotal = taxable = ZERO
    out: list[Entity] = []
    line_ids(items + discounts, old)
    for line in items:
        if line["DetailType"] == ITEM_LINE:
            detail = dict(line.get(ITEM_LINE) or {})
            item = active_ref(company, "Item", detail.get("ItemRef"), "ItemRef")
            detail["ItemRef"] = ref(item)
            amount = _line_amount(line, detail, "Amount")
            code = _line_tax_code(company, item, (detail.get("TaxCodeRef") or {}).get("value"))
            detail["TaxCodeRef"] = {"value": code}
            if "ServiceDate" in detail:
                service_date = as_date(detail.pop("ServiceDate"), "ServiceDate")
                if service_date:
                    detail["ServiceDate"] = service_date
            if item.get("IncomeAccountRef"):
                detail["ItemAccountRef"] = item["IncomeAccountRef"]
            line[ITEM_LINE] = detail
            line["Amount"] = amount
            subtotal += amount
            if code == "TAX":
                taxable += amount
        else:
            line["Amount"] = wire.cents(money(line.get("Amount", 0), "Amount"))
        out.append(line)
    out.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    discount_total = ZERO
    for line in discounts:
        detail = dict(line.get("DiscountLineDetail") or {})
        if detail.get("PercentBased"):
            percent = money(detail.get("DiscountPercent"), "DiscountPercent")
            line["Amount"] = wire.cents(subtotal * percent / HUNDRED)
        elif line.get("Amount") is not None:
            line["Amount"] = wire.cents(money(line["Amount"], "Amount"))
            detail["PercentBased"] = False
        else:
            raise faults.business("Discount line needs an amount or a percent", code="6090")
        detail.setdefault("DiscountAccountRef", _discount_account(company))
        line["DiscountLineDetail"] = detail
        discount_total += line["Amount"]
        out.append(line)
    doc["Line"] = out
    return subtotal, taxable, discount_total


def line_tax_codes(company: Company) -> bool:
    """US companies mark lines TAX/NON and tax the whole form with one TxnTaxCodeRef; others
    (Canada) put a tax code on every line (choices.CANADIAN_TAX_CODES)."""
    return company.country != "US"


def _line_tax_code(company: Company, item: Entity, sent: Any) -> str:
    if not line_tax_codes(company):
        code = str(sent) if sent is not None else ("TAX" if item.get("Taxable") else "NON")
        if code not in {"TAX", "NON"}:
            raise faults.invalid_value("TaxCodeRef", f"Invalid line TaxCode {code}", "6100")
        return code
    if sent is None:
        raise faults.business(
            "Make sure all your transactions have a sales tax rate before you save",
            code=choices.LINE_TAX_CODE_MISSING_CODE,
        )
    if company.get("TaxCode", str(sent)) is None:
        raise faults.invalid_value("TaxCodeRef", f"Invalid line TaxCode {sent}", "6100")
    return str(sent)


def _line_taxes(
    company: Company, doc: Entity, subtotal: Decimal, discount: Decimal
) -> list[Entity]:
    """Tax by each line's own code: one TaxLine per rate, on the lines' amounts less their
    share of the discount (the discount prorated over the lines by amount)."""
    nets: dict[str, Decimal] = {}
    for line in doc["Line"]:
        detail = line.get(ITEM_LINE)
        if not isinstance(detail, dict):
            continue
        code = company.require("TaxCode", detail["TaxCodeRef"]["value"])
        for rate_detail in code.get("SalesTaxRateList", {}).get("TaxRateDetail", []):
            rate_id = str(rate_detail["TaxRateRef"]["value"])
            nets[rate_id] = nets.get(rate_id, ZERO) + line["Amount"]
    tax_lines: list[Entity] = []
    for rate_id, gross in nets.items():
        rate = company.require("TaxRate", rate_id)
        net = wire.cents(gross - discount * gross / subtotal) if subtotal and discount else gross
        tax_lines.append(_tax_line(rate, net))
    return tax_lines


def _tax_line(rate: Entity, taxable: Decimal) -> Entity:
    return {
        "Amount": wire.cents(taxable * rate["RateValue"] / HUNDRED),
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate["Id"]},
            "PercentBased": True,
            "TaxPercent": rate["RateValue"],
            "NetAmountTaxable": taxable,
        },
    }


def _discount_account(company: Company) -> dict[str, str]:
    account = company.get("Account", company.preset_accounts.get("discounts", ""))
    return ref(account) if account else {"value": ""}


def apply_sales_totals(
    company: Company, doc: Entity, request: Entity, old: Entity | None = None
) -> None:
    """Fill SubTotal line, discount, TxnTaxDetail, TotalAmt for Invoice/CreditMemo/RefundReceipt."""
    subtotal, taxable, discount = sales_lines(company, doc, old)
    if doc.get("ApplyTaxAfterDiscount") and discount and subtotal:
        taxable = wire.cents(taxable - discount * taxable / subtotal)
    sent = request.get("TxnTaxDetail") if isinstance(request.get("TxnTaxDetail"), dict) else None
    explicit = wire.to_decimal(sent.get("TotalTax")) if sent and "TotalTax" in sent else None
    detail = dict(doc.get("TxnTaxDetail") or {})
    code_id: str | None = None
    if company.ast:
        code_id = company.ast_code_id
    elif isinstance(detail.get("TxnTaxCodeRef"), dict):
        code_id = str(detail["TxnTaxCodeRef"].get("value"))
    tax_lines: list[Entity] = []
    total_tax = ZERO
    if line_tax_codes(company):
        detail.pop("TxnTaxCodeRef", None)
        doc.setdefault("GlobalTaxCalculation", "TaxExcluded")
        tax_lines = _line_taxes(company, doc, subtotal, discount)
        total_tax = sum((line["Amount"] for line in tax_lines), ZERO)
    elif code_id:
        code = company.get("TaxCode", code_id)
        if code is None:
            raise faults.invalid_reference("TaxCode", code_id, "TxnTaxCodeRef")
        detail["TxnTaxCodeRef"] = {"value": code_id}
        for rate_detail in code.get("SalesTaxRateList", {}).get("TaxRateDetail", []):
            rate = company.require("TaxRate", rate_detail["TaxRateRef"]["value"])
            tax_lines.append(_tax_line(rate, taxable))
            total_tax += tax_lines[-1]["Amount"]
    if explicit is not None:
        total_tax = _prorate(tax_lines, wire.cents(explicit), total_tax)
    detail["TotalTax"] = total_tax
    detail["TaxLine"] = tax_lines
    doc["TxnTaxDetail"] = detail
    if subtotal - discount + total_tax < ZERO:
        raise faults.business(choices.NEGATIVE_TOTAL_DETAIL, code=choices.NEGATIVE_TOTAL_CODE)
    doc["TotalAmt"] = subtotal - discount + total_tax


def _prorate(tax_lines: list[Entity], wanted: Decimal, computed: Decimal) -> Decimal:
    """Honour an explicit TotalTax, spreading it over the tax lines in proportion."""
    remaining = wanted
    for index, line in enumerate(tax_lines):
        if index == len(tax_lines) - 1:
            line["Amount"] = remaining
        else:
            share = wire.cents(wanted * line["Amount"] / computed) if computed else ZERO
            line["Amount"] = share
            remaining -= share
    return wanted


PURCHASE_DETAILS = {"AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"}


def apply_purchase_totals(company: Company, doc: Entity, old: Entity | None = None) -> None:
    """Lines of Bill/PurchaseOrder: validate refs, number lines, TotalAmt."""
    lines = doc.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.missing_param("Line")
    total = ZERO
    out: list[Entity] = []
    for raw in lines:
        line = dict(raw)
        kind = line.get("DetailType")
        if kind not in PURCHASE_DETAILS:
            raise (
                faults.missing_param("DetailType")
                if not kind
                else faults.invalid_value(
                    "DetailType", f"Unsupported line DetailType {kind}", "2120"
                )
            )
        detail = dict(line.get(kind) or {})
        if kind == "AccountBasedExpenseLineDetail":
            account = active_ref(company, "Account", detail.get("AccountRef"), "AccountRef")
            detail["AccountRef"] = ref(account)
            line["Amount"] = wire.cents(money(line.get("Amount"), "Amount"))
        else:
            item = active_ref(company, "Item", detail.get("ItemRef"), "ItemRef")
            detail["ItemRef"] = ref(item)
            line["Amount"] = _line_amount(line, detail, "Amount")
        detail.setdefault("BillableStatus", "NotBillable")
        detail.setdefault("TaxCodeRef", {"value": "NON"})
        line[kind] = detail
        total += line["Amount"]
        out.append(line)
    line_ids(out, old)
    doc["Line"] = out
    doc["TotalAmt"] = total
    doc["HomeTotalAmt"] = total


def _lines(doc: Entity) -> list[Entity]:
    lines = doc.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.missing_param("Line")
    return [dict(line) if isinstance(line, dict) else {} for line in lines]


def _detail(line: Entity, kind: str) -> Entity:
    if line.get("DetailType") != kind:
        found = line.get("DetailType")
        if not found:
            raise faults.missing_param("DetailType")
        raise faults.invalid_value("DetailType", f"Unsupported line DetailType {found}", "2120")
    return dict(line.get(kind) or {})


def apply_journal_totals(company: Company, doc: Entity, old: Entity | None = None) -> None:
    """JournalEntry: every line posts a Debit or Credit to an account; debits must equal
    credits (choices.JOURNAL_MUST_BALANCE); TotalAmt is the debit side."""
    out = _lines(doc)
    sides = {"Debit": ZERO, "Credit": ZERO}
    for line in out:
        detail = _detail(line, "JournalEntryLineDetail")
        posting = detail.get("PostingType")
        if posting not in sides:
            raise faults.invalid_value("PostingType", f"Invalid Enumeration : {posting}", "2120")
        detail["AccountRef"] = ref(
            active_ref(company, "Account", detail.get("AccountRef"), "AccountRef")
        )
        line["Amount"] = wire.cents(money(line.get("Amount"), "Amount"))
        if line["Amount"] < 0:
            raise faults.invalid_value("Amount", "Negative amounts are not supported", "2290")
        sides[posting] += line["Amount"]
        line["JournalEntryLineDetail"] = detail
    if sides["Debit"] != sides["Credit"]:
        raise faults.business(
            "Transaction Not Balanced: the debits and credits on a journal entry must be equal "
            f"(debits {sides['Debit']}, credits {sides['Credit']})",
            code=choices.JOURNAL_UNBALANCED_CODE,
        )
    line_ids(out, old)
    doc["Line"] = out
    doc["TotalAmt"] = sides["Debit"]
    doc.setdefault("Adjustment", False)


def apply_deposit_totals(company: Company, doc: Entity, old: Entity | None = None) -> None:
    """Deposit: into DepositToAccountRef, each line from an account (DepositLineDetail)."""
    account = active_ref(company, "Account", doc.get("DepositToAccountRef"), "DepositToAccountRef")
    doc["DepositToAccountRef"] = ref(account)
    out = _lines(doc)
    total = ZERO
    for line in out:
        detail = _detail(line, "DepositLineDetail")
        detail["AccountRef"] = ref(
            active_ref(company, "Account", detail.get("AccountRef"), "AccountRef")
        )
        line["DepositLineDetail"] = detail
        line["Amount"] = wire.cents(money(line.get("Amount"), "Amount"))
        total += line["Amount"]
    line_ids(out, old)
    doc["Line"] = out
    doc["TotalAmt"] = total
