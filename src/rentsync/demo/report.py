"""What the demo prints once the sync has settled: a table per company, a summary, and where
the API, its docs, the emulator and the API keys are."""

from __future__ import annotations

import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rentsync.demo import vendor_report
from rentsync.demo.seed import SeedPayment

if TYPE_CHECKING:
    from rentsync.demo.runner import CompanyRun, DemoRun

STATE_STYLES = {"synced": "green", "skipped": "yellow", "failed": "red"}

SYNC_MODES = {
    "orders_and_quotes_with_payment": "orders, and quotes with a payment",
    "only_with_payment": "orders and quotes only once they have a payment",
    "all_orders_and_quotes": "all orders and quotes",
}


def outcome_code(status: dict[str, Any]) -> str | None:
    if status.get("state") == "skipped" and status.get("skip"):
        return str(status["skip"]["reason"])
    if status.get("state") == "failed" and status.get("error"):
        return str(status["error"]["code"])
    return None


def as_expected(run: CompanyRun, source_id: str) -> bool:
    order = next(o for o in run.seed.orders if o.source_id == source_id)
    status = run.statuses.get(source_id, {})
    return status.get("state") == order.expected.state and (
        order.expected.code is None or outcome_code(status) == order.expected.code
    )


def _reason(status: dict[str, Any]) -> str:
    state = status.get("state")
    if state == "skipped" and status.get("skip"):
        skip = status["skip"]
        hint = str(skip.get("remedy") or "")
        text = f"[bold]{escape(str(skip['reason']))}[/]: {escape(str(skip['message']))}"
        return text + (f"\n[bold]What to do:[/] {escape(hint)}" if hint else "")
    if state == "failed" and status.get("error"):
        error = status["error"]
        text = f"[bold]{escape(str(error['code']))}[/] {escape(str(error['message']))}"
        if error.get("detail"):
            text += f"\n{escape(str(error['detail']))}"
        if error.get("remedy"):
            text += f"\n[bold]Remedy:[/] {escape(str(error['remedy']))}"
        return text
    if state not in STATE_STYLES:
        return f"not settled yet ({escape(str(state))})"
    return ""


def company_table(run: CompanyRun) -> Table:
    seed = run.seed
    table = Table(
        title=(
            f"[bold]{escape(seed.name)}[/] → QuickBooks company {escape(run.qbo.name)!r} "
            f"(realm {run.qbo.realm_id}; syncs {SYNC_MODES.get(seed.sync_mode, seed.sync_mode)})"
        ),
        title_justify="left",
        expand=True,
    )
    table.add_column("Order", no_wrap=True)
    table.add_column("Id", no_wrap=True, style="dim")
    table.add_column("Customer", max_width=24)
    table.add_column("Total", justify="right", no_wrap=True)
    table.add_column("Balance due\nrental / QBO", justify="right", no_wrap=True)
    table.add_column("QuickBooks", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Reason / code and message, remedy", ratio=1)
    customers = {c.source_id: c.name for c in seed.customers}
    for order in seed.orders:
        status = run.statuses.get(order.source_id, {"state": "unknown"})
        state = str(status.get("state"))
        style = STATE_STYLES.get(state, "magenta")
        state_text = f"[{style}]{escape(state)}[/]"
        if not as_expected(run, order.source_id):
            state_text += f"\n[red]expected {escape(order.expected.describe())}[/]"
        qbo = status.get("qbo")
        reason = _reason(status)
        if order.story:
            reason = f"[italic dim]{escape(order.story)}[/]" + (f"\n{reason}" if reason else "")
        if reason and table.rows:
            table.rows[-1].end_section = True  # a rule above and below a multi-line row
        table.add_row(
            f"{order.kind.title()} {escape(order.invoice_number)}",
            order.source_id,
            escape(customers.get(str(order.body["customer_id"]), "?")),
            f"{order.total:,.2f}",
            _balances(run, order.source_id, order.total),
            f"{qbo['entity']} {qbo['id']}" if qbo else "-",
            state_text,
            reason,
            end_section=bool(reason),
        )
    return table


def balance_due(run: CompanyRun, order_id: str, total: Decimal) -> Decimal:
    """The rental system's balance due: the total less its payments not voided."""
    paid = sum((p.applied for p in run.seed.payments if p.order_id == order_id), Decimal(0))
    return total - paid


def balances_agree(run: CompanyRun, order_id: str, total: Decimal) -> bool:
    """A synced order has the rental system's balance due in QuickBooks too (a failed one may
    differ: that is its story, e.g. a tax mismatch)."""
    qbo = run.qbo_balances.get(order_id)
    synced = run.statuses.get(order_id, {}).get("state") == "synced"
    return qbo is None or not synced or qbo == balance_due(run, order_id, total)


def _balances(run: CompanyRun, order_id: str, total: Decimal) -> str:
    rental = balance_due(run, order_id, total)
    qbo = run.qbo_balances.get(order_id)
    if qbo is None:
        return f"{rental:,.2f} / -"
    text = f"{rental:,.2f} / {qbo:,.2f}"
    return text if qbo == rental else f"[red]{text}[/]"


def payment_expected(run: CompanyRun, payment: SeedPayment) -> bool:
    """The payment and its refunds and void came out as the demo expects."""
    paths = payment.paths
    main = run.payment_statuses.get(paths[0], {})
    if main.get("state") != payment.expected.state:
        return False
    if payment.expected.code is not None and outcome_code(main) != payment.expected.code:
        return False
    return all(
        run.payment_statuses.get(path, {}).get("state") == payment.expected.state
        for path in paths[1:]
    )


def payments_table(run: CompanyRun) -> Table:
    table = Table(
        title=f"[bold]{escape(run.seed.name)}[/]: payments", title_justify="left", expand=True
    )
    table.add_column("Payment", no_wrap=True)
    table.add_column("Order", no_wrap=True, style="dim")
    table.add_column("Kind / method", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    table.add_column("QuickBooks", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Refunds, void; reason", ratio=1)
    for payment in run.seed.payments:
        paths = payment.paths
        status = run.payment_statuses.get(paths[0], {"state": "unknown"})
        state = str(status.get("state"))
        style = STATE_STYLES.get(state, "magenta")
        state_text = f"[{style}]{escape(state)}[/]"
        if not payment_expected(run, payment):
            state_text += f"\n[red]expected {escape(payment.expected.describe())}[/]"
        notes = []
        if payment.story:
            notes.append(f"[italic dim]{escape(payment.story)}[/]")
        for path in paths[1:]:
            part = run.payment_statuses.get(path, {})
            qbo = part.get("qbo")
            where = f" ({qbo['entity']} {qbo['id']})" if qbo else ""
            what = "void" if path.startswith("payment-voids/") else path.split("/", 1)[1]
            notes.append(f"{escape(what)}: {escape(str(part.get('state')))}{where}")
        reason = _reason(status)
        if reason:
            notes.append(reason)
        final = payment.final
        kind = "credit applied" if final["kind"] == "credit_applied" else str(final["method"])
        qbo = status.get("qbo")
        table.add_row(
            payment.source_id,
            payment.order_id,
            escape(kind) + (" [dim](voided)[/]" if final.get("voided") else ""),
            f"{Decimal(final['amount']):,.2f}",
            f"{qbo['entity']} {qbo['id']}" if qbo else "-",
            state_text,
            "\n".join(notes),
            end_section=True,
        )
    return table


def payment_counts(run: CompanyRun) -> Counter[str]:
    return Counter(
        str(run.payment_statuses.get(f"payments/{p.source_id}", {}).get("state"))
        for p in run.seed.payments
    )


def references_line(run: CompanyRun) -> str:
    """Customers and products go to QuickBooks with the first order that needs them."""
    parts = []
    for plural in ("customers", "products"):
        states = {
            key.split(":", 1)[1]: n
            for key, n in run.reference_states.items()
            if key.startswith(f"{plural}:")
        }
        synced = states.pop("synced", 0)
        text = f"{synced} {plural} in QuickBooks"
        waiting = states.pop("not_synced", 0)
        if waiting:
            text += f", {waiting} not needed by any synced order"
        text += "".join(f", {n} {escape(state)}" for state, n in sorted(states.items()))
        parts.append(text)
    return "; ".join(parts) + "."


def counts(run: CompanyRun) -> Counter[str]:
    return Counter(str(run.statuses.get(o.source_id, {}).get("state")) for o in run.seed.orders)


def _summary(counted: Counter[str]) -> str:
    return f"{counted['synced']} synced / {counted['skipped']} skipped / {counted['failed']} failed"


def print_report(demo: DemoRun, console: Console) -> bool:
    """Print the tables, the summary and the addresses; True when every order and quote came
    out as the demo expects."""
    total: Counter[str] = Counter()
    expected_everywhere = True
    for run in demo.companies:
        console.print()
        console.print(company_table(run))
        counted = counts(run)
        total += counted
        console.print(
            f"{escape(run.seed.name)}: {_summary(counted)}. {references_line(run)}",
        )
        if run.seed.note:
            console.print(f"[italic]{escape(run.seed.note)}[/]")
        expected_everywhere &= all(as_expected(run, o.source_id) for o in run.seed.orders)
        if run.seed.payments:
            console.print()
            console.print(payments_table(run))
            agree = all(balances_agree(run, o.source_id, o.total) for o in run.seed.orders)
            console.print(
                f"{escape(run.seed.name)} payments: {_summary(payment_counts(run))}; balance due "
                + (
                    "in QuickBooks equals the rental system's on every synced order."
                    if agree
                    else "[red]differs from the rental system's on some orders (in red)[/]."
                )
            )
            expected_everywhere &= agree and all(
                payment_expected(run, p) for p in run.seed.payments
            )
        if run.seed.vendor_steps:
            console.print()
            console.print(vendor_report.vendor_table(run))
            vendors_ok = vendor_report.vendors_expected(run)
            console.print(
                f"{escape(run.seed.name)} vendor side: "
                + (
                    "every bill, payment and purchase order as the rental system has it."
                    if vendors_ok
                    else "[red]not every document as expected (in red)[/]."
                )
            )
            expected_everywhere &= vendors_ok
    documents = sum(len(run.seed.orders) for run in demo.companies)
    console.print()
    verdict = (
        "every outcome as the demo expects"
        if expected_everywhere and demo.settled
        else "[red]NOT every outcome as the demo expects (see the red marks above)[/]"
    )
    if not demo.settled:
        verdict += "; [red]some documents never settled: the sync stopped moving for a minute[/]"
    console.print(
        f"[bold]Summary: {_summary(total)}[/] of {documents} orders and quotes, settled in "
        f"{demo.sync_seconds:.1f} s; {verdict}."
    )
    print_addresses(demo, console)
    return expected_everywhere


def print_addresses(demo: DemoRun, console: Console) -> None:
    console.print()
    console.print(f"[bold]API[/]       {demo.api_url}/api/v1  (Authorization: Bearer <API key>)")
    console.print(f"[bold]API docs[/]  {demo.api_url}/docs  (health: {demo.api_url}/health)")
    console.print(
        f"[bold]QuickBooks emulator[/] {demo.emulator.url}  (everything in a company: "
        f"GET {demo.emulator.url}/admin/companies/<realm>)"
    )
    console.print(
        f"[bold]Web console[/] {demo.api_url}/  sign in as (owner, new password each run):"
    )
    for run in demo.companies:
        console.print(
            f"  {escape(run.seed.name)}: {run.console_email}  password {run.console_password}"
        )
    console.print("[bold]API keys[/] (shown once; only their hashes are stored):")
    for run in demo.companies:
        console.print(f"  {escape(run.seed.name)}: {run.api_key}")
    if demo.companies:
        ids = ", ".join(f"{escape(run.seed.name)} {run.company_id}" for run in demo.companies)
        rentsync = Path(sys.executable).with_name("rentsync")
        console.print(
            f"[bold]Command line[/] on this demo's data (company ids: {ids}), while it runs:"
        )
        console.print(
            f"  {escape(demo.cli_env)}{rentsync} bulk-sync --company "
            f"{demo.companies[0].company_id} --preview",
            soft_wrap=True,
        )
    if demo.companies:
        first = demo.companies[0]
        console.print("[bold]Try[/]:")
        console.print(
            f'  curl -s -H "Authorization: Bearer {first.api_key}" '
            f"{demo.api_url}/api/v1/sync/messages",
            soft_wrap=True,
        )
        failed = next(
            (o for o in first.seed.orders if o.expected.state == "failed"), first.seed.orders[0]
        )
        console.print(
            f'  curl -s -H "Authorization: Bearer {first.api_key}" '
            f"{demo.api_url}/api/v1/orders/{failed.source_id}/sync",
            soft_wrap=True,
        )
    console.print(f"  {escape(demo.data_note)}")


def print_serving(console: Console) -> None:
    console.print()
    console.print(
        "[bold]Serving[/] until Ctrl-C (stops rentsync and the QuickBooks emulator). "
        "PUT more documents and watch them sync."
    )
