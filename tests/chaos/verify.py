"""The end of a chaos run: QuickBooks (the emulator's books) compared with the source of truth,
exactly, and the status API compared with both.

Counted problems (the figures table):

- duplicate: a second QBO Customer/Invoice carrying one document's rentsync marker, or a QBO
  Item created during the run that no product's status names (a product's item made twice);
- left_behind: a QBO invoice of a deleted order, or one carrying no marker of a known order;
- stale: a QBO object whose content differs from the document's last accepted state;
- stuck: a document pending or failed, not synced at its latest revision, a live order or a
  needed customer/product without its QBO object, or a status that disagrees with QBO.

Each problem names the document; `diagnose` prints, per document, the source's state, what QBO
holds, the status API's answer with its history, and the operations the driver sent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.chaos.scenario import Scenario

KINDS = ("duplicate", "left_behind", "stale", "stuck")


def marker(company_id: int, doc_type: str, source_id: str) -> str:
    return f"[rentsync:c{company_id}:{doc_type}:{source_id}]"


def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass
class Problem:
    kind: str
    plural: str
    sid: str
    what: str


@dataclass
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, plural: str, sid: str, what: str) -> None:
        assert kind in KINDS
        self.problems.append(Problem(kind, plural, sid, what))

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)


def _entities(books: dict[str, Any], entity: str) -> dict[str, dict[str, Any]]:
    found = books.get("entities", {}).get(entity, {})
    if isinstance(found, list):
        return {str(e["Id"]): e for e in found}
    return {str(k): v for k, v in found.items()}


def _by_marker(
    objects: dict[str, dict[str, Any]], note_field: str, prefix: str
) -> dict[str, list[dict[str, Any]]]:
    """QBO objects by the source id in their rentsync marker (`prefix` = `[rentsync:cN:type:`)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for obj in objects.values():
        note = str(obj.get(note_field) or "")
        start = note.find(prefix)
        if start < 0:
            continue
        end = note.find("]", start)
        found[note[start + len(prefix) : end]].append(obj)
    return found


def expected_invoice_lines(
    order: dict[str, Any], item_ids: dict[str, str | None]
) -> list[tuple[Any, ...]]:
    """(Description, ItemRef, Qty, UnitPrice, Amount, ServiceDate) per item line, then the
    discount line, as rentsync's invoice mapping writes them."""
    period = order.get("rental_period")
    lines: list[tuple[Any, ...]] = []
    for line, own_period in [(x, period) for x in order["lines"]] + [
        (x, None) for x in order.get("fees", [])
    ]:
        used = line.get("rental_period") or own_period
        description = line.get("description")
        if used is not None:
            span = f"{used['start']} to {used['end']}"
            description = f"{description} ({span})" if description else f"Rental {span}"
        lines.append(
            (
                description,
                item_ids.get(line["product_id"]),
                dec(line["quantity"]),
                dec(line["rate"]),
                dec(line["amount"]),
                used["start"] if used else None,
            )
        )
    discount = dec(order["totals"].get("discount", "0"))
    if discount:
        lines.append(("discount", discount))
    return lines


def actual_invoice_lines(invoice: dict[str, Any]) -> list[tuple[Any, ...]]:
    lines: list[tuple[Any, ...]] = []
    for line in invoice.get("Line", []):
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            detail = line["SalesItemLineDetail"]
            lines.append(
                (
                    line.get("Description"),
                    str(detail.get("ItemRef", {}).get("value")),
                    dec(detail.get("Qty")),
                    dec(detail.get("UnitPrice")),
                    dec(line.get("Amount")),
                    detail.get("ServiceDate"),
                )
            )
        elif kind == "DiscountLineDetail":
            lines.append(("discount", dec(line.get("Amount"))))
    return lines


def summarize_invoice(invoice: dict[str, Any]) -> str:
    return (
        f"Invoice Id={invoice.get('Id')} SyncToken={invoice.get('SyncToken')} "
        f"DocNumber={invoice.get('DocNumber')} CustomerRef={invoice.get('CustomerRef', {})} "
        f"TotalAmt={invoice.get('TotalAmt')} lines={actual_invoice_lines(invoice)} "
        f"PrivateNote={invoice.get('PrivateNote')!r}"
    )


def summarize_order(order: dict[str, Any]) -> str:
    lines = [
        (x["product_id"], x["quantity"], x["rate"], x["amount"])
        for x in order["lines"] + order.get("fees", [])
    ]
    return (
        f"v{order.get('version')} customer={order['customer_id']} "
        f"number={order['invoice_number']} total={order['totals']['total']} "
        f"discount={order['totals']['discount']} lines={lines}"
    )


def verify(
    scenario: Scenario,
    company_id: int,
    books: dict[str, Any],
    statuses: dict[tuple[str, str], dict[str, Any]],
    baseline: dict[str, set[str]],
) -> Verdict:
    verdict = Verdict()
    customers = _entities(books, "Customer")
    items = _entities(books, "Item")
    invoices = _entities(books, "Invoice")
    customers_by_marker = _by_marker(customers, "Notes", f"[rentsync:c{company_id}:customer:")
    invoices_by_marker = _by_marker(invoices, "PrivateNote", f"[rentsync:c{company_id}:order:")
    live = scenario.live_orders()
    needed_customers = {order["customer_id"] for order in live.values()}
    needed_products = {
        line["product_id"]
        for order in live.values()
        for line in order["lines"] + order.get("fees", [])
    }
    verdict.checked = {
        "qbo_invoices": len(invoices),
        "qbo_customers": len(customers) - len(baseline["Customer"]),
        "qbo_items": len(items) - len(baseline["Item"]),
    }

    # Every document: its status settled at its latest revision.
    for (plural, sid), truth in scenario.source.items():
        status = statuses.get((plural, sid))
        if status is None:
            verdict.add("stuck", plural, sid, "no status (GET .../sync failed)")
            continue
        state = status["state"]
        if state == "pending":
            verdict.add("stuck", plural, sid, f"still pending at revision {status['revision']}")
        elif state in ("failed", "skipped"):
            error = status.get("error") or status.get("skip") or {}
            verdict.add(
                "stuck",
                plural,
                sid,
                f"{state}: {error.get('code') or error.get('reason')} {error.get('message')}",
            )
        elif state == "synced" and status.get("synced_revision") != status.get("revision"):
            verdict.add(
                "stuck",
                plural,
                sid,
                f"synced revision {status.get('synced_revision')} != stored revision "
                f"{status.get('revision')}",
            )
        if bool(status.get("deleted")) != truth.deleted:
            verdict.add(
                "stuck", plural, sid, f"status deleted={status.get('deleted')}, source disagrees"
            )

    # Customers: one QBO customer per marker, with the latest name and email.
    customer_qbo: dict[str, str] = {}
    for (plural, sid), truth in scenario.source.items():
        if plural != "customers":
            continue
        body = truth.body
        assert body is not None
        status = statuses.get((plural, sid)) or {}
        found = customers_by_marker.get(sid, [])
        if len(found) > 1:
            verdict.add(
                "duplicate",
                plural,
                sid,
                f"{len(found)} QBO customers carry its marker: Ids {[c['Id'] for c in found]}",
            )
        if not found:
            if sid in needed_customers:
                verdict.add("stuck", plural, sid, "needed by a live order, not in QBO")
            if status.get("qbo"):
                verdict.add(
                    "stuck", plural, sid, f"status names {status['qbo']}, no QBO customer has it"
                )
            continue
        qbo_ref = (status.get("qbo") or {}).get("id")
        chosen = next((c for c in found if str(c["Id"]) == str(qbo_ref)), None)
        if chosen is None:
            verdict.add(
                "stuck",
                plural,
                sid,
                f"status says {status.get('state')} qbo={status.get('qbo')}; QBO holds Ids "
                f"{[c['Id'] for c in found]}",
            )
            chosen = found[0]
        customer_qbo[sid] = str(chosen["Id"])
        actual = (
            chosen.get("DisplayName"),
            (chosen.get("PrimaryEmailAddr") or {}).get("Address"),
            chosen.get("Active", True),
        )
        expected = (body["name"], body["email"], True)
        if actual != expected:
            verdict.add(
                "stale", plural, sid, f"QBO (name, email, active) {actual} != source {expected}"
            )

    # Products: the item the status names, with the latest name, price and description.
    product_item: dict[str, str | None] = {}
    named_items: set[str] = set()
    items_by_name = {str(i.get("Name")).lower(): i for i in items.values()}
    for (plural, sid), truth in scenario.source.items():
        if plural != "products":
            continue
        body = truth.body
        assert body is not None
        status = statuses.get((plural, sid)) or {}
        qbo_ref = (status.get("qbo") or {}).get("id")
        product_item[sid] = str(qbo_ref) if qbo_ref else None
        if qbo_ref is None:
            if sid in needed_products:
                verdict.add("stuck", plural, sid, "needed by a live order, status names no item")
            stray = items_by_name.get(body["name"].lower())
            if stray is not None:
                verdict.add(
                    "stuck",
                    plural,
                    sid,
                    f"status names no item, QBO has Item {stray['Id']} named {stray['Name']!r}",
                )
            continue
        named_items.add(str(qbo_ref))
        item = items.get(str(qbo_ref))
        if item is None:
            verdict.add("stuck", plural, sid, f"status names Item {qbo_ref}, not in QBO")
            continue
        actual = (
            item.get("Name"),
            dec(item.get("UnitPrice")),
            item.get("Description"),
            item.get("Type"),
            bool(item.get("Taxable")),
            item.get("Active", True),
        )
        expected = (
            body["name"],
            dec(body["rate"]),
            body["description"],
            "Service",
            bool(body["taxable"]),
            True,
        )
        if actual != expected:
            verdict.add(
                "stale",
                plural,
                sid,
                f"QBO (name, price, description, type, taxable, active) {actual} != source "
                f"{expected}",
            )
    for item_id, item in items.items():
        if item_id not in baseline["Item"] and item_id not in named_items:
            verdict.add(
                "duplicate",
                "products",
                "?",
                f"QBO Item {item_id} {item.get('Name')!r} created during the run, named by no "
                "product's status",
            )

    # Orders: one invoice per live order with the right content; none for deleted ones.
    for (plural, sid), truth in scenario.source.items():
        if plural != "orders":
            continue
        status = statuses.get((plural, sid)) or {}
        found = invoices_by_marker.get(sid, [])
        qbo_ref = (status.get("qbo") or {}).get("id")
        if truth.body is None:
            for invoice in found:
                verdict.add(
                    "left_behind", plural, sid, f"deleted order: {summarize_invoice(invoice)}"
                )
            if qbo_ref is not None:
                verdict.add("stuck", plural, sid, f"deleted, status still names {status['qbo']}")
            continue
        order = truth.body
        if len(found) > 1:
            verdict.add(
                "duplicate",
                plural,
                sid,
                f"{len(found)} invoices carry its marker: "
                + " | ".join(summarize_invoice(i) for i in found),
            )
        if not found:
            verdict.add("stuck", plural, sid, "live order without an invoice in QBO")
            continue
        chosen = next((i for i in found if str(i["Id"]) == str(qbo_ref)), None)
        if chosen is None:
            verdict.add(
                "stuck",
                plural,
                sid,
                f"status {status.get('state')} qbo={status.get('qbo')}, QBO holds Ids "
                f"{[i['Id'] for i in found]}",
            )
            chosen = found[0]
        wanted_customer = customer_qbo.get(order["customer_id"])
        differences = []
        if str(chosen.get("CustomerRef", {}).get("value")) != str(wanted_customer):
            differences.append(
                f"CustomerRef {chosen.get('CustomerRef')} != QBO customer {wanted_customer} of "
                f"{order['customer_id']}"
            )
        for name, want in (
            ("DocNumber", order["invoice_number"]),
            ("TxnDate", order["invoice_date"]),
            ("DueDate", order.get("due_date")),
        ):
            if chosen.get(name) != want:
                differences.append(f"{name} {chosen.get(name)!r} != {want!r}")
        if dec(chosen.get("TotalAmt")) != dec(order["totals"]["total"]):
            differences.append(f"TotalAmt {chosen.get('TotalAmt')} != {order['totals']['total']}")
        want_lines = expected_invoice_lines(order, product_item)
        have_lines = actual_invoice_lines(chosen)
        if want_lines != have_lines:
            differences.append(f"lines {have_lines} != {want_lines}")
        if differences:
            verdict.add("stale", plural, sid, "; ".join(differences))

    known_orders = {sid for (plural, sid) in scenario.source if plural == "orders"}
    owned = {
        str(invoice["Id"])
        for sid, found in invoices_by_marker.items()
        if sid in known_orders
        for invoice in found
    }
    for invoice_id, invoice in invoices.items():
        if invoice_id not in owned:
            verdict.add(
                "left_behind",
                "orders",
                "?",
                f"Invoice {invoice_id} carries no marker of a known order: "
                + summarize_invoice(invoice),
            )
    return verdict


def diagnose(
    verdict: Verdict,
    scenario: Scenario,
    company_id: int,
    books: dict[str, Any],
    statuses: dict[tuple[str, str], dict[str, Any]],
    journal: dict[tuple[str, str], list[str]],
    *,
    limit: int = 25,
) -> str:
    """Per affected document (at most `limit`): the problems, the source, QBO, the status and
    its history, the operations sent."""
    by_doc: dict[tuple[str, str], list[Problem]] = defaultdict(list)
    for problem in verdict.problems:
        by_doc[(problem.plural, problem.sid)].append(problem)
    invoices = _entities(books, "Invoice")
    customers = _entities(books, "Customer")
    out: list[str] = []
    for n, (doc, problems) in enumerate(sorted(by_doc.items())):
        if n >= limit:
            out.append(f"... and {len(by_doc) - limit} more documents")
            break
        plural, sid = doc
        out.append(f"=== {plural}/{sid}")
        out.extend(f"  [{p.kind}] {p.what}" for p in problems)
        truth = scenario.source.get(doc)
        if truth is not None:
            if truth.body is None:
                source = f"deleted at v{truth.version}"
            elif plural == "orders":
                source = summarize_order(truth.body)
            else:
                source = str(truth.body)
            out.append(f"  source: {source}")
        if plural == "orders" and sid != "?":
            tag = marker(company_id, "order", sid)
            held = [i for i in invoices.values() if tag in str(i.get("PrivateNote") or "")]
            out.extend(f"  QBO: {summarize_invoice(i)}" for i in held)
            if not held:
                out.append("  QBO: no invoice with its marker")
        elif plural == "customers":
            tag = marker(company_id, "customer", sid)
            held = [c for c in customers.values() if tag in str(c.get("Notes") or "")]
            out.extend(
                f"  QBO: Customer Id={c['Id']} SyncToken={c.get('SyncToken')} "
                f"DisplayName={c.get('DisplayName')!r} "
                f"email={(c.get('PrimaryEmailAddr') or {}).get('Address')!r}"
                for c in held
            )
        status = statuses.get(doc)
        if status is not None:
            out.append(
                f"  status: state={status['state']} deleted={status.get('deleted')} "
                f"revision={status.get('revision')} synced_revision="
                f"{status.get('synced_revision')} qbo={status.get('qbo')} "
                f"attempts={status.get('attempts')} error={status.get('error')}"
            )
            for attempt in (status.get("history") or [])[:15]:
                detail = attempt.get("detail") or {}
                code = detail.get("code") or (detail.get("error") or {}).get("code") or ""
                out.append(
                    f"    history: rev {attempt['revision']} {attempt['trigger']} "
                    f"{attempt['finished_at']} {attempt['outcome']} {code}"
                )
        for line in journal.get(doc, [])[-12:]:
            out.append(f"    sent: {line}")
    return "\n".join(out)
