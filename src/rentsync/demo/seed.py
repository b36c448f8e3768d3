"""The demo's data: one week of a party-rental business, as its rental system would PUT it.

Two rentsync companies:

- "Sunny Days Party Rentals", connected to a QuickBooks Online Plus company without automated
  sales tax, in the sync mode "orders and quotes with payment": tents, tables and chairs for
  rent, linens and consumables for sale (inventory), delivery fees, 30 orders and quotes with
  discounts and 8 % sales tax. Four of them tell a story: one order marked No QuickBooks, one
  quote without a payment, one invoice number typed twice (QBO 6140) and one sale dated before
  its product's inventory start date (QBO 6270). Its vendor side (`demo.vendor_seed`): a
  subrental purchase order billed, received and paid, a vendor that is also a customer, a
  cancelled purchase order.
- "Hillside Tent & Event", whose QuickBooks company switched on automated sales tax (AST) after
  rentsync was connected: tax-exempt orders sync; an order taxed at the rental system's 8 % rate
  comes back from QuickBooks with AST's 8.25 % and fails read-back verification.

Every amount is Decimal and every taxable subtotal is a multiple of 0.50, so 8 % of it (and of
QuickBooks' 6 % + 2 % components) is exact to the cent: the only tax difference in the demo is
the one the story is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rentsync.domain.money import round_cents

if TYPE_CHECKING:
    from rentsync.demo.vendor_seed import SeedVendor, VendorStep

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


@dataclass(frozen=True, kw_only=True)
class SeedCustomer:
    source_id: str
    name: str
    email: str
    phone: str
    company_name: str | None = None
    city: str = "Sacramento"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "billing_address": {"city": self.city, "region": "CA", "country": "US"},
        }
        if self.company_name:
            body["company_name"] = self.company_name
        return body


@dataclass(frozen=True, kw_only=True)
class SeedProduct:
    source_id: str
    name: str
    kind: str
    """rental | sale | service | fee"""
    rate: Decimal
    taxable: bool = True
    cost: Decimal | None = None
    quantity_on_hand: Decimal | None = None
    tracking_start: date | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "sku": self.source_id,
            "rate": str(self.rate),
            "taxable": self.taxable,
        }
        if self.kind == "sale":
            assert self.quantity_on_hand is not None and self.tracking_start is not None
            body["cost"] = str(self.cost or ZERO)
            body["quantity_on_hand"] = str(self.quantity_on_hand)
            body["tracking_start"] = self.tracking_start.isoformat()
        return body


@dataclass(frozen=True, kw_only=True)
class Expected:
    """How the document should come out; `code` is the skip reason or the error code."""

    state: str
    code: str | None = None

    def describe(self) -> str:
        return self.state if self.code is None else f"{self.state} ({self.code})"


SYNCED = Expected(state="synced")


@dataclass(frozen=True, kw_only=True)
class SeedOrder:
    source_id: str
    body: dict[str, Any]
    """The PUT body without `tax_rate_id`, which comes from the company's synced tax rates."""
    taxed: bool
    expected: Expected = SYNCED
    story: str | None = None
    """Why this document is in the demo, when it is not an ordinary one."""
    after: str | None = None
    """PUT this one only once that order (same company) has settled."""

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", "order"))

    @property
    def invoice_number(self) -> str:
        return str(self.body["invoice_number"])

    @property
    def total(self) -> Decimal:
        return Decimal(self.body["totals"]["total"])

    def body_with(self, tax_rate_id: str | None) -> dict[str, Any]:
        if not self.taxed:
            return dict(self.body)
        assert tax_rate_id is not None
        return {**self.body, "tax_rate_id": tax_rate_id}


@dataclass(frozen=True, kw_only=True)
class SeedPayment:
    """A customer payment as the rental system PUTs it; `then` is its later state (a refund, a
    void), PUT once the first has settled."""

    source_id: str
    body: dict[str, Any]
    then: dict[str, Any] | None = None
    expected: Expected = SYNCED
    story: str | None = None

    @property
    def order_id(self) -> str:
        return str(self.body["order_id"])

    @property
    def final(self) -> dict[str, Any]:
        return self.then if self.then is not None else self.body

    @property
    def paths(self) -> list[str]:
        """Its status paths under /api/v1 and those of the parts its final state has."""
        final = self.final
        paths = [f"payments/{self.source_id}"]
        if final.get("voided"):
            return [*paths, f"payment-voids/{self.source_id}"]
        return paths + [f"refunds/{self.source_id}/{r['id']}" for r in final.get("refunds", [])]

    @property
    def applied(self) -> Decimal:
        """What it takes off the order's balance due (the rental system's figure)."""
        return ZERO if self.final.get("voided") else Decimal(self.final["amount"])


@dataclass(frozen=True, kw_only=True)
class SeedCredit:
    """A credit memo the bookkeeper recorded in QuickBooks for a customer (e.g. for gear
    returned on an earlier event): credit a payment may apply."""

    customer_id: str
    amount: Decimal
    note: str


@dataclass(frozen=True, kw_only=True)
class SeedCompany:
    key: str
    name: str
    """The rental business, as rentsync knows it."""
    qbo_name: str
    """The QuickBooks company it connects to (created in the emulator)."""
    ast: bool
    """The QuickBooks company uses automated sales tax."""
    ast_switched_on_after_connect: bool = False
    """QuickBooks' AST preference is off while rentsync connects, then switched on."""
    sync_mode: str
    tax_rate_name: str
    """The synced QuickBooks tax rate the rental system charges."""
    tax_percent: Decimal
    customers: Sequence[SeedCustomer]
    products: Sequence[SeedProduct]
    orders: Sequence[SeedOrder]
    payments: Sequence[SeedPayment] = ()
    credits: Sequence[SeedCredit] = ()
    vendors: Sequence[SeedVendor] = ()
    vendor_steps: Sequence[VendorStep] = ()
    """The vendor side (`demo.vendor_seed`): PUT in order, each once the one before settled."""
    note: str | None = None

    def product(self, source_id: str) -> SeedProduct:
        return next(p for p in self.products if p.source_id == source_id)


@dataclass
class _Book:
    """Builds orders whose totals add up, the way the rental system computes them."""

    products: dict[str, SeedProduct]
    tax_percent: Decimal
    orders: list[SeedOrder] = field(default_factory=list)

    def order(
        self,
        source_id: str,
        number: str,
        customer_id: str,
        day: date,
        lines: Sequence[tuple[str, str]],
        *,
        fees: Sequence[tuple[str, str]] = (),
        event_days: int = 1,
        discount_percent: str | None = None,
        discount_amount: str | None = None,
        discount_note: str | None = None,
        taxed: bool = True,
        kind: str = "order",
        has_payment: bool = False,
        no_quickbooks: bool = False,
        expected: Expected = SYNCED,
        story: str | None = None,
        after: str | None = None,
    ) -> SeedOrder:
        body_lines = [self._line(pid, qty) for pid, qty in lines]
        body_fees = [self._line(pid, qty) for pid, qty in fees]
        subtotal = sum((Decimal(line["amount"]) for line in (*body_lines, *body_fees)), ZERO)
        taxable = sum(
            (Decimal(line["amount"]) for line in (*body_lines, *body_fees) if line["taxable"]),
            ZERO,
        )
        discounts: list[dict[str, Any]] = []
        discount = ZERO
        if discount_percent is not None:
            discount = round_cents(subtotal * Decimal(discount_percent) / HUNDRED)
            discounts.append({"description": discount_note, "percent": discount_percent})
        elif discount_amount is not None:
            discount = Decimal(discount_amount)
            discounts.append({"description": discount_note, "amount": discount_amount})
        # Tax on the taxable lines before the discount (rentsync's TAX_AFTER_DISCOUNT = False).
        tax = round_cents(taxable * self.tax_percent / HUNDRED) if taxed else ZERO
        body: dict[str, Any] = {
            "kind": kind,
            "customer_id": customer_id,
            "invoice_number": number,
            "invoice_date": day.isoformat(),
            "due_date": (day + timedelta(days=14)).isoformat(),
            "rental_period": {
                "start": day.isoformat(),
                "end": (day + timedelta(days=event_days)).isoformat(),
            },
            "lines": body_lines,
            "totals": {
                "subtotal": str(subtotal),
                "discount": str(discount),
                "tax": str(tax),
                "total": str(subtotal - discount + tax),
            },
            "has_payment": has_payment,
            "no_quickbooks": no_quickbooks,
            "reason": "created",
        }
        if body_fees:
            body["fees"] = body_fees
        if discounts:
            body["discounts"] = discounts
        order = SeedOrder(
            source_id=source_id,
            body=body,
            taxed=taxed,
            expected=expected,
            story=story,
            after=after,
        )
        self.orders.append(order)
        return order

    def _line(self, product_id: str, quantity: str) -> dict[str, Any]:
        product = self.products[product_id]
        amount = round_cents(Decimal(quantity) * product.rate)
        return {
            "product_id": product_id,
            "quantity": quantity,
            "rate": str(product.rate),
            "amount": str(amount),
            "taxable": product.taxable,
        }


def _rental(source_id: str, name: str, rate: str) -> SeedProduct:
    return SeedProduct(source_id=source_id, name=name, kind="rental", rate=Decimal(rate))


def _sale(
    source_id: str, name: str, rate: str, cost: str, on_hand: int, start: date
) -> SeedProduct:
    return SeedProduct(
        source_id=source_id,
        name=name,
        kind="sale",
        rate=Decimal(rate),
        cost=Decimal(cost),
        quantity_on_hand=Decimal(on_hand),
        tracking_start=start,
    )


def _fee(source_id: str, name: str, rate: str, kind: str = "fee") -> SeedProduct:
    return SeedProduct(source_id=source_id, name=name, kind=kind, rate=Decimal(rate), taxable=False)


def _customer(
    source_id: str, name: str, email: str, phone: str, company: str | None = None
) -> SeedCustomer:
    return SeedCustomer(
        source_id=source_id, name=name, email=email, phone=phone, company_name=company
    )


def party_week(monday: date) -> list[SeedCompany]:
    """The two demo companies and their week, Monday `monday` to the Sunday after."""
    return [_sunny_days(monday), _hillside(monday)]


def _sunny_days(monday: date) -> SeedCompany:
    stock_counted = monday - timedelta(days=31)
    sparklers_counted = monday + timedelta(days=4)
    products = [
        _rental("TENT-2030", "Frame tent 20x30", "450.00"),
        _rental("TENT-4060", "Frame tent 40x60", "1200.00"),
        _rental("CANOPY-10", "Pop-up canopy 10x10", "85.00"),
        _rental("TBL-60RND", "Round table 60 in", "12.00"),
        _rental("TBL-8FT", "Banquet table 8 ft", "10.00"),
        _rental("CHR-WHITE", "Chair, white folding", "2.50"),
        _rental("CHR-CHIAV", "Chiavari chair, gold", "7.50"),
        _rental("DANCE-3X3", "Dance floor section 3x3", "15.00"),
        _rental("HEATER", "Patio heater", "65.00"),
        _rental("LIGHTS-100", "String lights, 100 ft", "40.00"),
        _rental("BOUNCE", "Bounce house, castle", "225.00"),
        _rental("CHAFER", "Chafing dish, full size", "14.00"),
        _sale("NAPKIN-IVY", "Linen napkins, ivory (dozen)", "18.00", "7.50", 400, stock_counted),
        _sale("RUNNER-BUR", "Table runner, burlap", "9.00", "3.50", 150, stock_counted),
        _sale("CLOTH-90132", "Tablecloth 90x132, white", "24.00", "11.00", 120, stock_counted),
        _sale("STERNO-24", "Chafing fuel (case of 24)", "38.00", "21.00", 60, stock_counted),
        _sale("PLATES-50", "Disposable plates (pack of 50)", "14.00", "5.50", 200, stock_counted),
        _sale(
            "SPARKLER-144",
            "Wedding sparklers, 36 in (box of 144)",
            "64.00",
            "30.00",
            40,
            sparklers_counted,
        ),
        _fee("DELIV-LOCAL", "Delivery and pickup, local", "75.00"),
        _fee("DELIV-ZONE2", "Delivery and pickup, zone 2", "140.00"),
        _fee("SETUP", "Setup and teardown crew", "150.00", kind="service"),
    ]
    customers = [
        _customer("C-MAPLE", "Maple Street Events", "hello@maplestreet.example", "916-555-0142"),
        _customer(
            "C-HARBOR",
            "Harbor View Yacht Club",
            "events@harborview.example",
            "916-555-0187",
            "Harbor View Yacht Club",
        ),
        _customer("C-LINCOLN", "Lincoln Elementary PTA", "pta@lincoln.example", "916-555-0110"),
        _customer(
            "C-RIVER", "Riverside Community Church", "office@riverside.example", "916-555-0123"
        ),
        _customer("C-MENDOZA", "Carla Mendoza", "carla.mendoza@mail.example", "916-555-0166"),
        _customer(
            "C-ROTARY", "Greenfield Rotary Club", "rotary@greenfield.example", "916-555-0171"
        ),
        _customer(
            "C-SUMMIT",
            "Summit Tech",
            "people@summit-tech.example",
            "916-555-0199",
            "Summit Tech Inc.",
        ),
        _customer("C-PARKER", "Jordan and Priya Parker", "parkers@mail.example", "916-555-0135"),
        _customer("C-LEAGUE", "Westside Little League", "board@westsidell.example", "916-555-0150"),
        _customer("C-BLUEFERN", "Blue Fern Catering", "orders@bluefern.example", "916-555-0118"),
        _customer("C-DELGADO", "Delgado Family Reunion", "r.delgado@mail.example", "916-555-0177"),
        _customer("C-OAKS", "Oak Hollow HOA", "manager@oakhollow.example", "916-555-0129"),
        _customer(
            "C-BRIGHT", "Bright Futures Foundation", "gala@brightfutures.example", "916-555-0104"
        ),
        _customer("C-WHITAKER", "Dan Whitaker", "dan.whitaker@mail.example", "916-555-0191"),
    ]
    book = _Book({p.source_id: p for p in products}, Decimal(8))
    mon, tue, wed, thu, fri, sat, sun = (monday + timedelta(days=n) for n in range(7))
    o = book.order
    # Monday
    o(
        "R-24101",
        "3101",
        "C-MAPLE",
        mon,
        [("TENT-2030", "1"), ("TBL-60RND", "10"), ("CHR-WHITE", "80")],
        fees=[("DELIV-LOCAL", "1")],
    )
    o(
        "R-24102",
        "3102",
        "C-LINCOLN",
        mon,
        [("BOUNCE", "2"), ("CANOPY-10", "3"), ("TBL-8FT", "6")],
        fees=[("DELIV-LOCAL", "1")],
        discount_percent="10",
        discount_note="Schools and non-profits 10 %",
    )
    o(
        "R-24103",
        "3103",
        "C-BLUEFERN",
        mon,
        [("CHAFER", "8"), ("STERNO-24", "2"), ("PLATES-50", "4")],
    )
    o(
        "R-24104",
        "3104",
        "C-MENDOZA",
        mon,
        [("CANOPY-10", "1"), ("TBL-8FT", "2"), ("CHR-WHITE", "20")],
        fees=[("DELIV-LOCAL", "1")],
    )
    # Tuesday
    o(
        "R-24105",
        "3105",
        "C-HARBOR",
        tue,
        [
            ("TENT-4060", "1"),
            ("TBL-60RND", "20"),
            ("CHR-CHIAV", "160"),
            ("DANCE-3X3", "16"),
            ("LIGHTS-100", "4"),
        ],
        fees=[("DELIV-ZONE2", "1"), ("SETUP", "2")],
        event_days=2,
    )
    o(
        "R-24106",
        "3106",
        "C-ROTARY",
        tue,
        [("TBL-8FT", "12"), ("CHR-WHITE", "100"), ("CLOTH-90132", "12")],
        fees=[("DELIV-LOCAL", "1")],
        discount_amount="50.00",
        discount_note="Returning customer",
    )
    o(
        "R-24107",
        "3107",
        "C-PARKER",
        tue,
        [("TENT-2030", "1"), ("CHR-CHIAV", "60"), ("TBL-60RND", "8"), ("SPARKLER-144", "2")],
        fees=[("DELIV-LOCAL", "1")],
        expected=Expected(state="failed", code="6270"),
        story=(
            "Sells wedding sparklers on Tuesday; their stock count was entered with Friday as "
            "the inventory start date, so QuickBooks refuses the earlier sale."
        ),
    )
    o(
        "R-24108",
        "3108",
        "C-SUMMIT",
        tue,
        [("TENT-2030", "2"), ("TBL-8FT", "10"), ("CHR-WHITE", "100"), ("BOUNCE", "1")],
        fees=[("DELIV-ZONE2", "1")],
        kind="quote",
        expected=Expected(state="skipped", code="quote_without_payment"),
        story="A quote for a company picnic; no deposit yet.",
    )
    o(
        "R-24109",
        "3109",
        "C-OAKS",
        tue,
        [("CANOPY-10", "4"), ("TBL-8FT", "8"), ("CHR-WHITE", "60")],
        fees=[("DELIV-LOCAL", "1")],
        kind="quote",
        has_payment=True,
    )
    # Wednesday
    o(
        "R-24110",
        "3110",
        "C-RIVER",
        wed,
        [("TBL-8FT", "20"), ("CHR-WHITE", "150"), ("CHAFER", "10")],
        fees=[("DELIV-LOCAL", "1")],
        discount_percent="10",
        discount_note="Schools and non-profits 10 %",
    )
    o(
        "R-24111",
        "3111",
        "C-MAPLE",
        wed,
        [("TENT-4060", "1"), ("HEATER", "6"), ("LIGHTS-100", "3"), ("NAPKIN-IVY", "10")],
        fees=[("DELIV-ZONE2", "1"), ("SETUP", "1")],
        event_days=2,
    )
    o(
        "R-24112",
        "3112",
        "C-DELGADO",
        wed,
        [("CANOPY-10", "2"), ("TBL-8FT", "8"), ("CHR-WHITE", "64"), ("PLATES-50", "3")],
        fees=[("DELIV-LOCAL", "1")],
    )
    o(
        "R-24113",
        "3113",
        "C-BLUEFERN",
        wed,
        [("CHAFER", "12"), ("STERNO-24", "3"), ("CLOTH-90132", "6")],
    )
    o(
        "R-24114",
        "3114",
        "C-LEAGUE",
        wed,
        [("CANOPY-10", "6"), ("TBL-8FT", "4")],
        fees=[("DELIV-LOCAL", "1")],
        discount_percent="10",
        discount_note="Schools and non-profits 10 %",
    )
    # Thursday
    o(
        "R-24115",
        "3115",
        "C-BRIGHT",
        thu,
        [
            ("TENT-4060", "1"),
            ("TBL-60RND", "24"),
            ("CHR-CHIAV", "200"),
            ("DANCE-3X3", "20"),
            ("LIGHTS-100", "6"),
            ("NAPKIN-IVY", "17"),
        ],
        fees=[("DELIV-ZONE2", "1"), ("SETUP", "2")],
        discount_amount="250.00",
        discount_note="Gala sponsorship",
        event_days=2,
    )
    o(
        "R-24116",
        "3116",
        "C-MENDOZA",
        thu,
        [("HEATER", "2"), ("LIGHTS-100", "1")],
        fees=[("DELIV-LOCAL", "1")],
    )
    o(
        "R-24117",
        "3117",
        "C-HARBOR",
        thu,
        [("CANOPY-10", "2"), ("TBL-60RND", "6"), ("CHR-CHIAV", "48")],
        fees=[("DELIV-ZONE2", "1")],
    )
    o(
        "R-24118",
        "3118",
        "C-ROTARY",
        thu,
        [("BOUNCE", "1"), ("CANOPY-10", "2")],
        fees=[("DELIV-LOCAL", "1")],
        kind="quote",
        has_payment=True,
    )
    o(
        "R-24119",
        "3119",
        "C-WHITAKER",
        thu,
        [("TENT-2030", "1"), ("TBL-8FT", "6"), ("CHR-WHITE", "40")],
        no_quickbooks=True,
        expected=Expected(state="skipped", code="no_quickbooks"),
        story="The owner's brother-in-law's graduation party: loaned gear, kept out of the books.",
    )
    # Friday
    o(
        "R-24120",
        "3120",
        "C-PARKER",
        fri,
        [("DANCE-3X3", "9"), ("HEATER", "4"), ("RUNNER-BUR", "8")],
        fees=[("DELIV-LOCAL", "1")],
    )
    o(
        "R-24121",
        "3121",
        "C-OAKS",
        fri,
        [("TENT-2030", "1"), ("TBL-60RND", "12"), ("CHR-WHITE", "96"), ("LIGHTS-100", "2")],
        fees=[("DELIV-LOCAL", "1"), ("SETUP", "1")],
        discount_amount="75.00",
        discount_note="HOA member rate",
    )
    o(
        "R-24122",
        "3122",
        "C-BLUEFERN",
        fri,
        [("CHAFER", "6"), ("STERNO-24", "1"), ("PLATES-50", "6")],
    )
    o(
        "R-24123",
        "3123",
        "C-MAPLE",
        fri,
        [("CANOPY-10", "3"), ("TBL-8FT", "10"), ("CHR-WHITE", "80"), ("CLOTH-90132", "10")],
        fees=[("DELIV-LOCAL", "1")],
    )
    o(
        "R-24124",
        "3124",
        "C-LINCOLN",
        fri,
        [("TBL-8FT", "15"), ("CHR-WHITE", "120")],
        fees=[("DELIV-LOCAL", "1")],
        kind="quote",
        has_payment=True,
        discount_percent="10",
        discount_note="Schools and non-profits 10 %",
    )
    # Saturday
    o(
        "R-24125",
        "3125",
        "C-DELGADO",
        sat,
        [("BOUNCE", "1"), ("HEATER", "2")],
        fees=[("DELIV-LOCAL", "1")],
    )
    o(
        "R-24126",
        "3126",
        "C-HARBOR",
        sat,
        [("LIGHTS-100", "5"), ("HEATER", "8"), ("NAPKIN-IVY", "12")],
        fees=[("DELIV-ZONE2", "1")],
    )
    o(
        "R-24127",
        "3117",
        "C-RIVER",
        sat,
        [("TBL-8FT", "10"), ("CHR-WHITE", "80")],
        fees=[("DELIV-LOCAL", "1")],
        expected=Expected(state="failed", code="6140"),
        after="R-24117",
        story=(
            "Invoice number 3117 typed again by hand on Saturday; Thursday's order for Harbor "
            "View already has it in QuickBooks."
        ),
    )
    o(
        "R-24128",
        "3128",
        "C-MENDOZA",
        sat,
        [("CHR-WHITE", "30"), ("TBL-8FT", "3"), ("PLATES-50", "2")],
    )
    # Sunday
    o(
        "R-24129",
        "3129",
        "C-BRIGHT",
        sun,
        [("CANOPY-10", "2"), ("TBL-8FT", "4")],
        fees=[("DELIV-LOCAL", "1")],
        discount_percent="10",
        discount_note="Schools and non-profits 10 %",
    )
    o(
        "R-24130",
        "3130",
        "C-PARKER",
        sun,
        [("CHAFER", "4"), ("STERNO-24", "1")],
        fees=[("DELIV-LOCAL", "1")],
    )
    from rentsync.demo.vendor_seed import sunny_vendor_side  # it builds on this module

    vendors, vendor_steps = sunny_vendor_side(monday)
    return SeedCompany(
        key="sunny",
        name="Sunny Days Party Rentals",
        qbo_name="Sunny Days Party Rentals LLC",
        ast=False,
        sync_mode="orders_and_quotes_with_payment",
        tax_rate_name="Local 8%",
        tax_percent=book.tax_percent,
        customers=customers,
        products=products,
        orders=book.orders,
        payments=_sunny_payments(book.orders),
        vendors=vendors,
        vendor_steps=vendor_steps,
        credits=[
            SeedCredit(
                customer_id="C-HARBOR",
                amount=Decimal("150.00"),
                note="Credit for a tent returned unused last month",
            )
        ],
    )


def _sunny_payments(orders: Sequence[SeedOrder]) -> list[SeedPayment]:
    """Deposits, full payments, a partial refund, a void, credit applied, and a payment on the
    No QuickBooks order (skipped)."""
    by_id = {order.source_id: order for order in orders}

    def pay(
        source_id: str,
        order_id: str,
        share: str,
        method: str | None,
        *,
        kind: str = "payment",
        amount: str | None = None,
        reference: str | None = None,
        then: dict[str, Any] | None = None,
        expected: Expected = SYNCED,
        story: str | None = None,
    ) -> SeedPayment:
        order = by_id[order_id]
        value = Decimal(amount) if amount is not None else round_cents(order.total * Decimal(share))
        body: dict[str, Any] = {
            "order_id": order_id,
            "kind": kind,
            "amount": str(value),
            "date": order.body["invoice_date"],
            "method": method,
            "reference_number": reference,
            "refunds": [],
            "voided": False,
        }
        later = None if then is None else {**body, **then}
        return SeedPayment(
            source_id=source_id, body=body, then=later, expected=expected, story=story
        )

    refund_day = by_id["R-24103"].body["rental_period"]["end"]
    return [
        pay("PAY-5001", "R-24101", "1", "check", reference="CHK 4411", story="Paid in full."),
        pay("PAY-5002", "R-24102", "0.5", "card", reference="AUTH 88213", story="A 50 % deposit."),
        pay(
            "PAY-5003",
            "R-24103",
            "1",
            "card",
            reference="AUTH 88257",
            then={
                "refunds": [
                    {
                        "id": "RF-1",
                        "amount": "40.00",
                        "date": refund_day,
                        "method": "card",
                        "reason": "Two heaters not used",
                    }
                ]
            },
            story="Paid in full, then 40.00 refunded: a refund receipt in QuickBooks.",
        ),
        pay(
            "PAY-5004",
            "R-24104",
            "0.25",
            "cash",
            then={"voided": True},
            story="Entered twice at the front desk, then voided: voided in QuickBooks too.",
        ),
        pay("PAY-5005", "R-24104", "0.25", "cash", story="The deposit, entered once."),
        pay(
            "PAY-5006",
            "R-24105",
            "0",
            None,
            kind="credit_applied",
            amount="120.00",
            story="The customer's credit (a credit memo in QuickBooks) applied to the order.",
        ),
        pay("PAY-5007", "R-24109", "0.3", "ach", story="The quote's deposit: its invoice syncs."),
        pay(
            "PAY-5008",
            "R-24119",
            "1",
            "cash",
            expected=Expected(state="skipped", code="no_quickbooks"),
            story="Payment on the No QuickBooks order: never sent.",
        ),
    ]


def _hillside(monday: date) -> SeedCompany:
    products = [
        _rental("HT-TENT-3060", "Sailcloth tent 30x60", "1450.00"),
        _rental("HT-TBL-8FT", "Banquet table 8 ft", "11.00"),
        _rental("HT-CHR-WHITE", "Chair, white folding", "3.00"),
        _rental("HT-STAGE", "Stage deck 4x8", "55.00"),
        _fee("HT-DELIV", "Delivery and pickup", "95.00"),
    ]
    customers = [
        _customer(
            "H-WESTRIDGE", "Westridge High School", "office@westridge.example", "530-555-0112"
        ),
        _customer("H-STMARK", "St. Mark's Parish", "events@stmarks.example", "530-555-0140"),
        _customer("H-COUNTY", "Placer County Fair", "fair@placer.example", "530-555-0163"),
        _customer("H-LAKES", "Lakeside Estates HOA", "board@lakeside.example", "530-555-0184"),
    ]
    book = _Book({p.source_id: p for p in products}, Decimal(8))
    wed, fri, sat = (monday + timedelta(days=n) for n in (2, 4, 5))
    book.order(
        "H-801",
        "H801",
        "H-WESTRIDGE",
        wed,
        [("HT-STAGE", "6"), ("HT-CHR-WHITE", "200")],
        fees=[("HT-DELIV", "1")],
        taxed=False,
    )
    book.order(
        "H-802",
        "H802",
        "H-STMARK",
        fri,
        [("HT-TENT-3060", "1"), ("HT-TBL-8FT", "20")],
        fees=[("HT-DELIV", "1")],
        taxed=False,
    )
    book.order(
        "H-803",
        "H803",
        "H-COUNTY",
        fri,
        [("HT-STAGE", "8"), ("HT-TBL-8FT", "30")],
        fees=[("HT-DELIV", "1")],
        taxed=False,
        event_days=3,
    )
    book.order(
        "H-804",
        "H804",
        "H-LAKES",
        sat,
        [("HT-TENT-3060", "1"), ("HT-TBL-8FT", "15"), ("HT-CHR-WHITE", "120")],
        fees=[("HT-DELIV", "1")],
        expected=Expected(state="failed", code="invoice_tax_mismatch"),
        story=(
            "Taxed at the rental system's 8 % rate; QuickBooks' automated sales tax charges 8.25 %."
        ),
    )
    return SeedCompany(
        key="hillside",
        name="Hillside Tent & Event",
        qbo_name="Hillside Tent & Event Co.",
        ast=True,
        ast_switched_on_after_connect=True,
        sync_mode="all_orders_and_quotes",
        tax_rate_name="Local 8%",
        tax_percent=book.tax_percent,
        customers=customers,
        products=products,
        orders=book.orders,
        note=(
            "Hillside switched on automated sales tax in QuickBooks after connecting rentsync. "
            "rentsync reads the company's tax settings when it connects, so it still sends the "
            "rental system's tax rate; QuickBooks replaces it with AST's rate and rentsync's "
            "read-back check reports the difference. Tax-exempt orders are unaffected."
        ),
    )
