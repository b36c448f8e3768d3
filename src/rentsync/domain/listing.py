"""How a document kind shows in lists (the console's documents list, search and page).

Each kind declares, in its registry line (`sync.kinds.base.KindSpec.listing`), where its
number, name, date and amount sit in its stored body and who it is for (its customer or
vendor, found through the documents it names), so lists and search work across kinds without
per-kind code or templates. Paths are JSON paths into the stored body (as the API stored it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from rentsync.domain.documents import DocumentType

Path = tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PartyStep:
    """One hop towards the party: the body field holding the id of a document of `doc_type`."""

    doc_type: DocumentType
    field: Path


@dataclass(frozen=True, kw_only=True)
class Compared:
    """An amount the rental system sent and the field QuickBooks holds it in (the read-back
    figures of B2), shown side by side on the document's page."""

    label: str
    source: Path
    """In the stored body."""
    qbo: Path
    """In the QBO entity."""
    unless: Path | None = None
    """A flag in the body that makes the comparison moot (a voided payment holds 0)."""


@dataclass(frozen=True, kw_only=True)
class FigureRow:
    label: str
    rental_system: str | None
    quickbooks: str | None
    agree: bool


@dataclass(frozen=True, kw_only=True)
class Listing:
    title: str
    """What a bookkeeper calls one of these ("Invoice", "Vendor bill")."""
    number: Path | None = None
    """Its number (an invoice number, a bill number, a payment's reference)."""
    name: Path | None = None
    """A name-list record's own name (customer, product, vendor)."""
    date: Path | None = None
    """Its date (YYYY-MM-DD), for the date filter; none for name-list records."""
    amount: Path | None = None
    """Its amount as the rental system sent it, shown in lists."""
    party: tuple[PartyStep, ...] = ()
    """The hops to its customer or vendor, whose `name` is shown and searched (a payment:
    its order, then the order's customer)."""

    compared: tuple[Compared, ...] = ()
    """Amounts to compare with what QuickBooks holds."""

    def __post_init__(self) -> None:
        if len(self.party) > 2:
            raise ValueError("a party is at most two hops away")


def compare(*figures: tuple[str, Path, Path], unless: Path | None = None) -> tuple[Compared, ...]:
    return tuple(
        Compared(label=label, source=source, qbo=qbo, unless=unless)
        for label, source, qbo in figures
    )


def party(*steps: tuple[DocumentType, str]) -> tuple[PartyStep, ...]:
    return tuple(PartyStep(doc_type=t, field=(f,)) for t, f in steps)


def _at(document: Mapping[str, Any], path: Path) -> Any:
    value: Any = document
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def compared_figures(
    listing: Listing, body: Mapping[str, Any], qbo_entity: Mapping[str, Any]
) -> list[FigureRow]:
    """Each compared amount as the rental system sent it and as QuickBooks holds it."""
    rows = []
    for compared in listing.compared:
        if compared.unless is not None and _at(body, compared.unless) is True:
            continue
        ours, theirs = _at(body, compared.source), _at(qbo_entity, compared.qbo)
        agree = ours is not None and theirs is not None and _amount(ours) == _amount(theirs)
        rows.append(
            FigureRow(
                label=compared.label,
                rental_system=None if ours is None else str(ours),
                quickbooks=None if theirs is None else str(theirs),
                agree=agree,
            )
        )
    return rows
