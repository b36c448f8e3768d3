"""Equality indexes over one company's entities, so lookups by name or number are not full scans.

A `FieldIndex` maps bucket keys to the Ids whose value lands in that bucket. Two kinds:

- `query` (a WHERE property path, e.g. `DisplayName`, `CustomerRef`): the buckets are a superset of
  what the query language's `=`/`IN` can match (see `query._comparable`): `("s", text)` for every
  value (lower-cased when string comparisons ignore case), `("d", Decimal)` for every value that
  reads as a number, `("b", bool)` for booleans. Callers re-check candidates with the same matcher
  a scan uses, so results are identical to a full scan.
- `unique` (a name field, for 6240-style uniqueness): the key is exactly the one `names` compares.
- `number` (DocNumber): its trailing digits as an int, so auto-numbering finds the highest fast.

Indexed fields are only ever changed by replacing a stored object (create, update, admin edits),
never in place (links, voids and stock moves touch Balance, LinkedTxn, amounts and QtyOnHand,
none of them indexed). `Company.insert/replace/remove` keep built indexes current; loading or
restoring a company starts from empty indexes, which are built lazily on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from decimal import Decimal
from typing import Any, Final

from qbo_emulator import choices, wire

Entity = dict[str, Any]
KeysOf = Callable[[Entity], Iterable[Hashable]]

# WHERE properties worth an index: set on create/update only, never edited in place.
QUERY_FIELDS: Final = frozenset(
    {
        "Id", "DisplayName", "Name", "DocNumber", "Active", "Type", "Sku", "FullyQualifiedName",
        "GivenName", "FamilyName", "CompanyName", "PrimaryEmailAddr.Address", "CustomerRef",
        "VendorRef", "TxnDate", "DueDate", "PaymentRefNum",
    }
)  # fmt: skip


def field_value(obj: Entity, path: str) -> Any:
    """A property as the query language sees it: dotted path, a reference reads as its value."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def _text_key(text: str) -> str:
    return text.lower() if choices.QUERY_STRINGS_CASE_INSENSITIVE else text


def _number(value: Any) -> Decimal | None:
    number = wire.to_decimal(value)
    return None if number is None or number.is_nan() else number


def value_keys(value: Any) -> tuple[Hashable, ...]:
    """The buckets a stored value belongs to."""
    if value is None:
        return ()
    if isinstance(value, bool):
        return (("b", value),)
    number = _number(value)
    text = ("s", _text_key(str(value)))
    return (text, ("d", number)) if number is not None else (text,)


def probe_keys(value: Any) -> tuple[Hashable, ...] | None:
    """The buckets that hold every stored value `= value` can match; None: use a scan."""
    if isinstance(value, bool):
        return (("b", value),)
    if isinstance(value, Decimal):
        return (("d", value),) if not value.is_nan() else ()
    if not isinstance(value, str):
        return None
    if "T" in value and ":" in value:
        return None  # may compare as date-times: not indexed
    number = _number(value)
    text = ("s", _text_key(value))
    return (text, ("d", number)) if number is not None else (text,)


def query_keys(path: str) -> KeysOf:
    return lambda obj: value_keys(field_value(obj, path))


def unique_key(value: Any) -> str:
    text = str(value)
    return text.strip().lower() if choices.NAMES_CASE_INSENSITIVE else text.strip()


def unique_keys(name: str) -> KeysOf:
    return lambda obj: (unique_key(obj.get(name, "")),)


TRAILING_DIGITS: Final = re.compile(r"^(.*?)(\d+)$")


def trailing_number_keys(name: str) -> KeysOf:
    """A document number's trailing digits as an int ("INV-0042" -> 42), for auto-numbering."""

    def keys_of(obj: Entity) -> tuple[Hashable, ...]:
        match = TRAILING_DIGITS.match(str(obj.get(name, "")))
        return (int(match.group(2)),) if match else ()

    return keys_of


KINDS: Final[dict[str, Callable[[str], KeysOf]]] = {
    "query": query_keys,
    "unique": unique_keys,
    "number": trailing_number_keys,
}


class FieldIndex:
    def __init__(self, keys_of: KeysOf) -> None:
        self.keys_of = keys_of
        self.buckets: dict[Hashable, set[str]] = {}
        self.held: dict[str, tuple[Hashable, ...]] = {}

    def put(self, obj_id: str, obj: Entity) -> None:
        self.drop(obj_id)
        keys = tuple(dict.fromkeys(self.keys_of(obj)))
        self.held[obj_id] = keys
        for key in keys:
            self.buckets.setdefault(key, set()).add(obj_id)

    def drop(self, obj_id: str) -> None:
        for key in self.held.pop(obj_id, ()):
            bucket = self.buckets.get(key)
            if bucket is not None:
                bucket.discard(obj_id)
                if not bucket:
                    del self.buckets[key]

    def size(self, keys: Iterable[Hashable]) -> int:
        return sum(len(self.buckets.get(key, ())) for key in keys)

    def find(self, keys: Iterable[Hashable]) -> set[str]:
        found: set[str] = set()
        for key in keys:
            found |= self.buckets.get(key, set())
        return found


class TableIndex:
    """One entity's table: the table's own order (dict order) and its field indexes."""

    def __init__(self, table: dict[str, Entity]) -> None:
        self.table = table
        self.position = {obj_id: i for i, obj_id in enumerate(table)}
        self.next_position = len(self.position)
        self.fields: dict[tuple[str, str], FieldIndex] = {}

    def field(self, kind: str, name: str) -> FieldIndex:
        found = self.fields.get((kind, name))
        if found is None:
            found = FieldIndex(KINDS[kind](name))
            for obj_id, obj in self.table.items():
                found.put(obj_id, obj)
            self.fields[(kind, name)] = found
        return found

    def put(self, obj_id: str, obj: Entity) -> None:
        if obj_id not in self.position:
            self.position[obj_id] = self.next_position
            self.next_position += 1
        for index in self.fields.values():
            index.put(obj_id, obj)

    def drop(self, obj_id: str) -> None:
        self.position.pop(obj_id, None)
        for index in self.fields.values():
            index.drop(obj_id)

    def rows(self, ids: Iterable[str]) -> list[Entity]:
        """The objects with these Ids, in the table's order (what a scan would yield)."""
        present = [obj_id for obj_id in ids if obj_id in self.table]
        present.sort(key=self.position.__getitem__)
        return [self.table[obj_id] for obj_id in present]


class Indexes:
    """A company's table indexes, built on first use."""

    def __init__(self) -> None:
        self.tables: dict[str, TableIndex] = {}

    def table(self, entity: str, table: dict[str, Entity]) -> TableIndex:
        found = self.tables.get(entity)
        if found is None or found.table is not table:
            found = self.tables[entity] = TableIndex(table)
        return found

    def put(self, entity: str, obj_id: str, obj: Entity) -> None:
        found = self.tables.get(entity)
        if found is not None:
            found.put(obj_id, obj)

    def drop(self, entity: str, obj_id: str) -> None:
        found = self.tables.get(entity)
        if found is not None:
            found.drop(obj_id)

    def clear(self) -> None:
        self.tables.clear()
