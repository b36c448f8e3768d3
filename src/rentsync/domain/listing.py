"""How a document kind shows in lists (the console's documents list, search and page).

Each kind declares, in its registry line (`sync.kinds.base.KindSpec.listing`), where its
number, name, date and amount sit in its stored body and who it is for (its customer or
vendor, found through the documents it names), so lists and search work across kinds without
per-kind code or templates. Paths are JSON paths into the stored body (as the API stored it).
"""

from __future__ import annotations

from dataclasses import dataclass

from rentsync.domain.documents import DocumentType

Path = tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PartyStep:
    """One hop towards the party: the body field holding the id of a document of `doc_type`."""

    doc_type: DocumentType
    field: Path


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

    def __post_init__(self) -> None:
        if len(self.party) > 2:
            raise ValueError("a party is at most two hops away")


def party(*steps: tuple[DocumentType, str]) -> tuple[PartyStep, ...]:
    return tuple(PartyStep(doc_type=t, field=(f,)) for t, f in steps)
