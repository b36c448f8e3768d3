"""The demo's vendor side, as printed: each vendor-side document's final state, what
QuickBooks holds for it (the vendor's name there, a bill's balance, a bill payment's pay type,
a purchase order's status), and whether it came out as the demo expects."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from rentsync.demo.vendor_seed import VendorStep, last_steps

if TYPE_CHECKING:
    from rentsync.demo.runner import CompanyRun

STATE_STYLES = {"synced": "green", "skipped": "yellow", "failed": "red"}


def outcome(status: dict[str, Any]) -> str:
    history = status.get("history") or []
    return str(history[0]["outcome"]) if history else ""


def step_expected(run: CompanyRun, step: VendorStep) -> bool:
    status = run.vendor_statuses.get(step.path, {})
    if status.get("state") != step.expected.state:
        return False
    return step.outcome is None or step.outcome in outcome(status)


def vendors_expected(run: CompanyRun) -> bool:
    """Every vendor-side document as the demo expects, each vendor in QuickBooks (one under
    its suffixed name, its plain name being a customer's)."""
    steps = all(step_expected(run, step) for step in last_steps(run.seed.vendor_steps))
    vendors = all(
        run.vendor_statuses.get(f"vendors/{v.source_id}", {}).get("state") == "synced"
        for v in run.seed.vendors
    )
    return steps and vendors


def what_qbo_holds(path: str, qbo: dict[str, Any] | None) -> str:
    if qbo is None:
        return ""
    if path.startswith("vendors/"):
        return f"named {qbo.get('DisplayName')!r}"
    total = f"total {_money(qbo.get('TotalAmt'))}"
    if path.startswith("vendor-bills/"):
        return f"{total}, balance {_money(qbo.get('Balance'))}"
    if path.startswith("vendor-payments/"):
        return f"{qbo.get('PayType')}, {total}"
    if path.startswith("purchase-orders/"):
        return f"{qbo.get('POStatus')}, {total}"
    return ""


def vendor_table(run: CompanyRun) -> Table:
    table = Table(
        title=f"[bold]{escape(run.seed.name)}[/]: vendors, bills, payments, purchase orders",
        title_justify="left",
        expand=True,
    )
    table.add_column("Document", no_wrap=True)
    table.add_column("QuickBooks", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("In QuickBooks; story", ratio=1)
    rows: list[tuple[str, str | None, VendorStep | None]] = [
        (f"vendors/{v.source_id}", None, None) for v in run.seed.vendors
    ]
    rows += [(step.path, step.story, step) for step in last_steps(run.seed.vendor_steps)]
    for path, story, step in rows:
        status = run.vendor_statuses.get(path, {"state": "unknown"})
        state = str(status.get("state"))
        text = f"[{STATE_STYLES.get(state, 'magenta')}]{escape(state)}[/]"
        if step is not None and not step_expected(run, step):
            text += f"\n[red]expected {escape(step.expected.describe())}[/]"
        qbo = status.get("qbo")
        held = what_qbo_holds(path, run.qbo_documents.get(path))
        lines = [escape("; ".join(part for part in (held, outcome(status)) if part))]
        if story:
            lines.append(f"[italic dim]{escape(story)}[/]")
        table.add_row(
            path,
            f"{qbo['entity']} {qbo['id']}" if qbo else "-",
            text,
            "\n".join(line for line in lines if line),
            end_section=True,
        )
    return table


def _money(value: Any) -> str:
    return f"{Decimal(str(value or 0)):,.2f}"
