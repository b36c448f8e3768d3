"""A seeded random scenario of a rental system's changes, and the source of truth it implies.

Every operation carries a version (increasing per document), so the state each document must
end in is its highest-versioned operation whatever the arrival order: that is the source of
truth `Source` keeps. Late older-version PUTs are sent after the newer one was answered and must
be no-ops. Operations are grouped in batches that touch each document at most once; a batch's
operations are sent concurrently, batches one after another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
PLURALS = ("customers", "products", "orders")


@dataclass(frozen=True)
class Op:
    seq: int
    label: str
    """create, update, move, delete, restore, rename, email, price, late."""
    plural: str
    sid: str
    version: int
    body: dict[str, Any] | None
    """None: a DELETE."""

    @property
    def late(self) -> bool:
        return self.label == "late"

    @property
    def doc(self) -> tuple[str, str]:
        return (self.plural, self.sid)


@dataclass
class Truth:
    """One document's last accepted state (the highest version sent, late PUTs aside)."""

    version: int
    body: dict[str, Any] | None
    history: list[tuple[int, dict[str, Any] | None]] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        return self.body is None


@dataclass
class Sizes:
    customers: int
    products: int
    orders: int
    mutations: int
    """Changes after the creates: updates, moves, deletes, restores, renames, late PUTs."""
    batch: int = 12


@dataclass
class Scenario:
    seed: int
    batches: list[list[Op]]
    source: dict[tuple[str, str], Truth]
    company_tag: str

    @property
    def ops(self) -> list[Op]:
        return [op for batch in self.batches for op in batch]

    def count(self, label: str) -> int:
        return sum(1 for op in self.ops if op.label == label)

    def live_orders(self) -> dict[str, dict[str, Any]]:
        return {
            sid: truth.body
            for (plural, sid), truth in self.source.items()
            if plural == "orders" and truth.body is not None
        }

    def deleted_orders(self) -> list[str]:
        return [
            sid
            for (plural, sid), truth in self.source.items()
            if plural == "orders" and truth.body is None
        ]


class _Builder:
    def __init__(self, seed: int, sizes: Sizes) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.sizes = sizes
        self.source: dict[tuple[str, str], Truth] = {}
        self.ops: list[Op] = []
        self.renames = 0

    # --- bodies ---------------------------------------------------------------------------

    def customer(self, sid: str, generation: int, email_generation: int) -> dict[str, Any]:
        suffix = "" if generation == 0 else f" (renamed {generation})"
        return {
            "name": f"Chaos Customer {sid}{suffix}",
            "email": f"{sid.lower()}.{email_generation}@chaos.example",
            "phone": f"555-{self.rng.randint(1000, 9999)}",
        }

    def product(self, sid: str, kind: str, generation: int) -> dict[str, Any]:
        rate = Decimal(self.rng.randint(150, 60000)) / 100
        suffix = "" if generation == 0 else f" mk{generation}"
        return {
            "name": f"Chaos {kind.title()} {sid}{suffix}",
            "kind": kind,
            "rate": str(rate),
            "taxable": kind != "fee",
            "description": f"{kind} product {sid}, edition {generation}",
        }

    def order(self, sid: str, n: int, customer_id: str) -> dict[str, Any]:
        rng = self.rng
        products = [
            (pid, truth.body)
            for (plural, pid), truth in self.source.items()
            if plural == "products" and truth.body is not None
        ]
        items = [p for p in products if p[1]["kind"] != "fee"]
        fees = [p for p in products if p[1]["kind"] == "fee"]
        chosen = rng.sample(items, k=rng.randint(1, min(3, len(items))))
        invoice_date = date(2026, 11, 1) + timedelta(days=n % 28)
        start = invoice_date + timedelta(days=rng.randint(1, 20))
        period = {"start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}

        def line(pid: str, product: dict[str, Any], *, description: bool) -> dict[str, Any]:
            quantity = rng.randint(1, 12)
            rate = Decimal(product["rate"])
            body: dict[str, Any] = {
                "product_id": pid,
                "quantity": str(quantity),
                "rate": str(rate),
                "amount": str((quantity * rate).quantize(CENT)),
                "taxable": bool(product["taxable"]),
            }
            if description:
                body["description"] = f"{product['name']} for {sid}"
            return body

        lines = [line(pid, product, description=True) for pid, product in chosen]
        order_fees = (
            [line(*rng.choice(fees), description=False)] if fees and rng.random() < 0.4 else []
        )
        subtotal = sum((Decimal(x["amount"]) for x in lines + order_fees), Decimal("0.00"))
        discount = Decimal("0.00")
        if rng.random() < 0.25:
            discount = min(subtotal, Decimal(rng.choice([5, 10, 25])))
        body: dict[str, Any] = {
            "kind": "order",
            "customer_id": customer_id,
            "invoice_number": f"CH{self.seed % 1000:03d}-{n:05d}",
            "invoice_date": invoice_date.isoformat(),
            "due_date": (invoice_date + timedelta(days=30)).isoformat(),
            "rental_period": period,
            "lines": lines,
            "fees": order_fees,
            "totals": {
                "subtotal": str(subtotal),
                "discount": str(discount),
                "tax": "0.00",
                "total": str(subtotal - discount),
            },
        }
        if discount:
            body["discounts"] = [{"amount": str(discount), "description": "Chaos discount"}]
        return body

    # --- operations -----------------------------------------------------------------------

    def emit(self, label: str, plural: str, sid: str, body: dict[str, Any] | None) -> None:
        key = (plural, sid)
        truth = self.source.get(key)
        version = 1 if truth is None else truth.version + self.rng.randint(1, 2)
        if body is not None:
            body = {**body, "version": version}
            if plural == "orders":
                body["reason"] = "created" if truth is None else "updated"
        if truth is None:
            truth = Truth(version=version, body=body)
            self.source[key] = truth
        else:
            truth.version, truth.body = version, body
        truth.history.append((version, body))
        self.ops.append(Op(len(self.ops), label, plural, sid, version, body))

    def late(self) -> bool:
        """Resend an older version of an order or customer: it must change nothing."""
        candidates = [
            (key, truth)
            for key, truth in self.source.items()
            if key[0] in ("orders", "customers")
            and any(body is not None for _, body in truth.history[:-1])
        ]
        if not candidates:
            return False
        key, truth = self.rng.choice(candidates)
        version, body = self.rng.choice([h for h in truth.history[:-1] if h[1] is not None])
        assert body is not None and version < truth.version
        self.ops.append(Op(len(self.ops), "late", key[0], key[1], version, body))
        return True

    def build(self) -> Scenario:
        rng, sizes = self.rng, self.sizes
        customer_ids = [f"C-{n:04d}" for n in range(1, sizes.customers + 1)]
        names = {sid: [0, 0] for sid in customer_ids}  # rename and email generations
        for sid in customer_ids:
            self.emit("create", "customers", sid, self.customer(sid, 0, 0))
        kinds = ["rental", "rental", "service", "fee"]
        product_gen: dict[str, tuple[str, int]] = {}
        for n in range(1, sizes.products + 1):
            sid = f"P-{n:03d}"
            kind = kinds[(n - 1) % len(kinds)]
            product_gen[sid] = (kind, 0)
            self.emit("create", "products", sid, self.product(sid, kind, 0))

        created = 0
        mutations = 0
        order_numbers: dict[str, int] = {}
        while created < sizes.orders or mutations < sizes.mutations:
            create_share = (sizes.orders - created) / max(
                1, (sizes.orders - created) + (sizes.mutations - mutations)
            )
            if created < sizes.orders and rng.random() < max(create_share, 0.25):
                created += 1
                sid = f"O-{created:05d}"
                order_numbers[sid] = created
                body = self.order(sid, created, rng.choice(customer_ids))
                self.emit("create", "orders", sid, body)
                continue
            if mutations >= sizes.mutations:
                continue
            mutations += 1
            live = [k[1] for k, t in self.source.items() if k[0] == "orders" and not t.deleted]
            dead = [k[1] for k, t in self.source.items() if k[0] == "orders" and t.deleted]
            roll = rng.random()
            if roll < 0.30 and live:
                sid = rng.choice(live)
                current = self.source[("orders", sid)].body
                assert current is not None
                body = self.order(sid, order_numbers[sid], current["customer_id"])
                self.emit("update", "orders", sid, body)
            elif roll < 0.42 and live:
                sid = rng.choice(live)
                current = self.source[("orders", sid)].body
                assert current is not None
                others = [c for c in customer_ids if c != current["customer_id"]]
                moved = {**current, "customer_id": rng.choice(others)}
                self.emit("move", "orders", sid, moved)
            elif roll < 0.54 and live:
                self.emit("delete", "orders", rng.choice(live), None)
            elif roll < 0.62 and dead:
                sid = rng.choice(dead)
                body = self.order(sid, order_numbers[sid], rng.choice(customer_ids))
                self.emit("restore", "orders", sid, body)
            elif roll < 0.72:
                sid = rng.choice(customer_ids)
                names[sid][0] += 1
                self.emit("rename", "customers", sid, self.customer(sid, *names[sid]))
            elif roll < 0.80:
                sid = rng.choice(customer_ids)
                names[sid][1] += 1
                self.emit("email", "customers", sid, self.customer(sid, *names[sid]))
            elif roll < 0.86:
                sid = rng.choice(sorted(product_gen))
                kind, generation = product_gen[sid]
                if rng.random() < 0.3:
                    generation += 1
                    product_gen[sid] = (kind, generation)
                self.emit("price", "products", sid, self.product(sid, kind, generation))
            elif not self.late():
                mutations -= 1
        return Scenario(
            seed=self.seed,
            batches=_batches(self.ops, sizes.batch),
            source=self.source,
            company_tag="",
        )


def _batches(ops: list[Op], size: int) -> list[list[Op]]:
    """Consecutive operations, at most `size` a batch and one per document."""
    batches: list[list[Op]] = []
    current: list[Op] = []
    docs: set[tuple[str, str]] = set()
    for op in ops:
        if len(current) >= size or op.doc in docs:
            batches.append(current)
            current, docs = [], set()
        current.append(op)
        docs.add(op.doc)
    if current:
        batches.append(current)
    return batches


def build_scenario(seed: int, sizes: Sizes) -> Scenario:
    return _Builder(seed, sizes).build()
