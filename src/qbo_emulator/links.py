"""Links between documents: payments lower balances, bills close purchase orders, stock moves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from qbo_emulator import choices, currency, faults, wire
from qbo_emulator.books import Company, Entity

ZERO = Decimal(0)
TARGETS = {"Payment": ("Invoice", "CreditMemo"), "BillPayment": ("Bill",)}
QTY_SIGN = {
    "Invoice": -1, "SalesReceipt": -1, "CreditMemo": 1, "RefundReceipt": 1, "Bill": 1,
    "Purchase": 1, "VendorCredit": -1,
}  # fmt: skip
# What each document adds to its customer's Balance (choices.CUSTOMER_BALANCE): an invoice its
# open balance, a credit memo minus its remaining credit, a payment minus its unapplied amount.
CUSTOMER_BALANCE = {"Invoice": ("Balance", 1), "CreditMemo": ("RemainingCredit", -1),
                    "Payment": ("UnappliedAmt", -1)}  # fmt: skip
ITEM_DETAILS = ("SalesItemLineDetail", "ItemBasedExpenseLineDetail")


def applications(doc: Entity | None) -> dict[tuple[str, str], Decimal]:
    """(TxnType, TxnId) -> amount applied by this payment."""
    applied: dict[tuple[str, str], Decimal] = {}
    for line in (doc or {}).get("Line", []) or []:
        amount = wire.to_decimal(line.get("Amount")) or ZERO
        for linked in line.get("LinkedTxn", []) or []:
            key = (str(linked.get("TxnType")), str(linked.get("TxnId")))
            applied[key] = applied.get(key, ZERO) + amount
    return applied


def check_payment(company: Company, entity: str, doc: Entity, old: Entity | None) -> None:
    """Validate a Payment/BillPayment's links; set UnappliedAmt."""
    party = "CustomerRef" if entity == "Payment" else "VendorRef"
    previous = applications(old)
    net = ZERO
    for (txn_type, txn_id), amount in applications(doc).items():
        if txn_type not in TARGETS[entity]:
            raise faults.invalid_value("TxnType", f"Cannot link {txn_type} to {entity}", "620")
        target = company.get(txn_type, txn_id)
        if target is None:
            raise faults.not_found(txn_type, txn_id, "LinkedTxn")
        if (target.get(party) or {}).get("value") != (doc.get(party) or {}).get("value"):
            raise faults.business(f"{txn_type} {txn_id} belongs to a different {party[:-3]}")
        open_balance = (wire.to_decimal(target.get("Balance")) or ZERO) + previous.get(
            (txn_type, txn_id), ZERO
        )
        if amount > open_balance:
            raise faults.business(
                f"The amount applied ({amount}) exceeds the open balance ({open_balance}) of "
                f"{txn_type} {txn_id}",
                code=choices.OVERPAY_CODE,
            )
        net += -amount if txn_type == "CreditMemo" else amount
    total = wire.to_decimal(doc.get("TotalAmt")) or ZERO
    if total < 0:
        raise faults.invalid_value("TotalAmt", "Negative amounts are not supported", "2290")
    if net > total:
        raise faults.business(f"The amount applied ({net}) exceeds the payment total ({total})")
    if entity == "Payment":
        doc["UnappliedAmt"] = total - net


def refresh_balance(company: Company, txn_type: str, txn_id: str) -> None:
    target = company.get(txn_type, txn_id)
    if target is None:
        return
    if (txn_type, txn_id) in company.voided:
        target["Balance"] = ZERO
        return
    applied = ZERO
    for linked in target.get("LinkedTxn", []) or []:
        if linked.get("TxnType") in TARGETS:
            payment = company.get(str(linked["TxnType"]), str(linked["TxnId"]))
            applied += applications(payment).get((txn_type, txn_id), ZERO)
    target["Balance"] = (wire.to_decimal(target.get("TotalAmt")) or ZERO) - applied
    if txn_type == "CreditMemo":
        target["RemainingCredit"] = target["Balance"]
    currency.home_amounts(company, target)


def relink(
    company: Company,
    entity: str,
    doc_id: str,
    old: Entity | None,
    new: Entity | None,
    now: datetime,
) -> None:
    """After a write of a payment-like document, update the documents it links."""
    before, after = set(applications(old)), set(applications(new))
    changed = before ^ after | {
        key for key in before & after if applications(old)[key] != applications(new)[key]
    }
    for txn_type, txn_id in before | after:
        target = company.get(txn_type, txn_id)
        if target is None:
            continue
        links = [
            link
            for link in target.get("LinkedTxn", []) or []
            if not (link.get("TxnType") == entity and link.get("TxnId") == doc_id)
        ]
        if (txn_type, txn_id) in after:
            links.append({"TxnId": doc_id, "TxnType": entity})
        target["LinkedTxn"] = links
        refresh_balance(company, txn_type, txn_id)
        if (txn_type, txn_id) in changed:
            company.touch(target, now)


def keep_payment_links(doc: Entity, old: Entity | None) -> None:
    """An update of a bill keeps the links its bill payments made, whatever LinkedTxn it sends
    (choices.PAYMENT_LINKS_OWNED_BY_PAYMENTS); the links it sends (a PurchaseOrder) replace the
    others."""
    if old is None or not choices.PAYMENT_LINKS_OWNED_BY_PAYMENTS:
        return
    paid = [link for link in old.get("LinkedTxn", []) or [] if link.get("TxnType") == "BillPayment"]
    sent = doc.get("LinkedTxn", old.get("LinkedTxn", [])) or []
    doc["LinkedTxn"] = [link for link in sent if link.get("TxnType") != "BillPayment"] + paid


def relink_purchase_orders(
    company: Company, bill_id: str, old: Entity | None, new: Entity | None, now: datetime
) -> None:
    def orders(doc: Entity | None) -> set[str]:
        return {
            str(link.get("TxnId"))
            for link in (doc or {}).get("LinkedTxn", []) or []
            if link.get("TxnType") == "PurchaseOrder"
        }

    for po_id in orders(old) | orders(new):
        order = company.get("PurchaseOrder", po_id)
        if order is None:
            raise faults.not_found("PurchaseOrder", po_id, "LinkedTxn")
        links = [
            link
            for link in order.get("LinkedTxn", []) or []
            if not (link.get("TxnType") == "Bill" and link.get("TxnId") == bill_id)
        ]
        if po_id in orders(new):
            links.append({"TxnId": bill_id, "TxnType": "Bill"})
        order["LinkedTxn"] = links
        set_po_status(company, order)
        company.touch(order, now)


def set_po_status(company: Company, order: Entity, sent: object = None) -> None:
    """POStatus: Closed when closed by hand (a write sending POStatus Closed; Open reopens) or
    when the linked bills account for the whole amount (choices.PO_CLOSES_WHEN_BILLED)."""
    if sent is not None:
        if sent not in {"Open", "Closed"}:
            raise faults.invalid_value("POStatus", f"Invalid Enumeration : {sent}", "2120")
        order["ManuallyClosed"] = sent == "Closed"
    order.setdefault("ManuallyClosed", False)
    total = wire.to_decimal(order.get("TotalAmt")) or ZERO
    billed = ZERO
    for link in order.get("LinkedTxn", []) or []:
        if link.get("TxnType") == "Bill":
            bill = company.get("Bill", str(link.get("TxnId")))
            billed += wire.to_decimal((bill or {}).get("TotalAmt")) or ZERO
    in_full = choices.PO_CLOSES_WHEN_BILLED and billed > ZERO and billed >= total
    order["POStatus"] = "Closed" if order["ManuallyClosed"] or in_full else "Open"


def stock_effect(company: Company, entity: str, doc: Entity | None) -> dict[str, Decimal]:
    sign = QTY_SIGN.get(entity)
    if sign is None or doc is None:
        return {}
    effect: dict[str, Decimal] = {}
    for line in doc.get("Line", []) or []:
        for kind in ITEM_DETAILS:
            detail = line.get(kind)
            if not isinstance(detail, dict):
                continue
            item_id = str((detail.get("ItemRef") or {}).get("value"))
            item = company.get("Item", item_id)
            if item is None or not item.get("TrackQtyOnHand"):
                continue
            qty = wire.to_decimal(detail.get("Qty"))
            if qty is None:
                raise faults.QboFault(
                    "6520",
                    "Missing Inventory Item Quantity",
                    "Quantity required for inventory item",
                )
            effect[item_id] = effect.get(item_id, ZERO) + sign * qty
    return effect


def check_stock_dates(company: Company, doc: Entity, effect: dict[str, Decimal]) -> None:
    txn_date = date.fromisoformat(str(doc["TxnDate"]))
    for item_id in effect:
        item = company.require("Item", item_id)
        start = item.get("InvStartDate")
        if start and txn_date < date.fromisoformat(str(start)[:10]):
            raise faults.before_inv_start(str(item.get("Name")), str(start))


def move_stock(company: Company, old: dict[str, Decimal], new: dict[str, Decimal]) -> None:
    for item_id in set(old) | set(new):
        item = company.get("Item", item_id)
        if item is not None:
            delta = new.get(item_id, ZERO) - old.get(item_id, ZERO)
            item["QtyOnHand"] = (wire.to_decimal(item.get("QtyOnHand")) or ZERO) + delta


def customer_ids(*docs: Entity | None) -> set[str]:
    return {
        str(doc["CustomerRef"]["value"])
        for doc in docs
        if doc and isinstance(doc.get("CustomerRef"), dict) and doc["CustomerRef"].get("value")
    }


def refresh_customer_balance(company: Company, customer_id: str) -> None:
    """Customer.Balance = open invoices - remaining credit - unapplied payments, in the
    customer's currency; BalanceWithJobs adds its sub-customers'. The customer's SyncToken does
    not move (a balance is not an edit of the customer)."""
    customer = company.get("Customer", customer_id)
    if customer is None:
        return
    balance = ZERO
    for entity, (field, sign) in CUSTOMER_BALANCE.items():
        found = company.find(entity, [("CustomerRef", [customer_id])])
        rows = company.table(entity).values() if found is None else found
        for doc in rows:
            if (doc.get("CustomerRef") or {}).get("value") == customer_id:
                balance += sign * (wire.to_decimal(doc.get(field)) or ZERO)
    customer["Balance"] = balance
    jobs = company.find("Customer", [("ParentRef", [customer_id])])
    children = company.table("Customer").values() if jobs is None else jobs
    customer["BalanceWithJobs"] = balance + sum(
        (
            wire.to_decimal(child.get("BalanceWithJobs")) or ZERO
            for child in children
            if (child.get("ParentRef") or {}).get("value") == customer_id
        ),
        ZERO,
    )
    parent = (customer.get("ParentRef") or {}).get("value")
    if parent:
        refresh_customer_balance(company, str(parent))
