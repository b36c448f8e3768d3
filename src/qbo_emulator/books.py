"""Per-company state: entities, Ids, SyncTokens, tombstones for CDC, the requestid replay cache."""

from __future__ import annotations

import copy
import pickle
import secrets
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from qbo_emulator import faults, wire
from qbo_emulator.index import FieldIndex, Indexes, TableIndex, probe_keys, unique_key

Entity = dict[str, Any]


@dataclass
class Replay:
    status: int
    body: bytes
    content_type: str


@dataclass
class Journal:
    """What one write changed, so a write that fails partway can be undone (`Company.atomic`)."""

    next_id: int
    next_address_id: int
    tombstones: int
    voided: set[tuple[str, str]]
    tables: frozenset[str]
    kept: dict[tuple[str, str], tuple[Entity, Entity]] = field(default_factory=dict)
    inserted: set[tuple[str, str]] = field(default_factory=set)
    orders: dict[str, list[str]] = field(default_factory=dict)  # table order before a removal

    def keep(self, entity: str, obj: Entity) -> None:
        key = (entity, str(obj.get("Id")))
        if key not in self.kept and key not in self.inserted:
            self.kept[key] = (obj, pickle.loads(pickle.dumps(obj)))  # noqa: S301 - our own bytes


@dataclass
class Company:
    realm_id: str
    name: str
    plan: str  # "plus" | "essentials"
    country: str
    ast: bool
    tz: ZoneInfo
    ast_code_id: str | None = None
    preset_accounts: dict[str, str] = field(default_factory=dict)
    voided: set[tuple[str, str]] = field(default_factory=set)
    store: dict[str, dict[str, Entity]] = field(default_factory=dict)
    tombstones: list[tuple[str, str, str]] = field(default_factory=list)  # entity, Id, time
    next_id: int = 1
    next_address_id: int = 1  # physical addresses have their own Id sequence
    replays: dict[str, Replay] = field(default_factory=dict)
    preferences: Entity = field(default_factory=dict)
    company_info: Entity = field(default_factory=dict)
    indexes: Indexes = field(default_factory=Indexes, repr=False, compare=False)
    journal: Journal | None = field(default=None, init=False, repr=False, compare=False)
    # objects created by earlier items of the batch being run: invisible to later items
    hidden: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False, compare=False)

    # --- ids and metadata ---------------------------------------------------------------------

    def new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def new_address_id(self) -> str:
        value = self.next_address_id
        self.next_address_id += 1
        return str(value)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def today(self, moment: datetime) -> date:
        return self.local(moment).date()

    def table(self, entity: str) -> dict[str, Entity]:
        return self.store.setdefault(entity, {})

    def get(self, entity: str, entity_id: str) -> Entity | None:
        if self.hidden and (entity, str(entity_id)) in self.hidden:
            return None
        found = self.store.get(entity, {}).get(str(entity_id))
        if found is not None and self.journal is not None:
            self.journal.keep(entity, found)  # every object a write changes in place is got here
        return found

    def require(self, entity: str, entity_id: str, element: str = "") -> Entity:
        found = self.get(entity, entity_id)
        if found is None:
            raise faults.not_found(entity, str(entity_id), element)
        return found

    def insert(
        self, entity: str, obj: Entity, now: datetime, *, entity_id: str | None = None
    ) -> Entity:
        stamp = wire.iso_seconds(self.local(now))
        obj["Id"] = entity_id or self.new_id()
        obj["SyncToken"] = "0"
        obj["domain"] = "QBO"
        obj["sparse"] = False
        obj["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        table = self.table(entity)
        if self.journal is not None:
            if obj["Id"] in table:
                self.journal.keep(entity, table[obj["Id"]])
            else:
                self.journal.inserted.add((entity, obj["Id"]))
        table[obj["Id"]] = obj
        self.indexes.put(entity, obj["Id"], obj)
        return obj

    def replace(self, entity: str, obj: Entity) -> None:
        """Store a new version of an existing object (same Id, same place in its table)."""
        table = self.table(entity)
        if self.journal is not None and obj["Id"] in table:
            self.journal.keep(entity, table[obj["Id"]])
        table[obj["Id"]] = obj
        self.indexes.put(entity, obj["Id"], obj)

    def touch(self, obj: Entity, now: datetime) -> None:
        """Record a modification: SyncToken + 1, LastUpdatedTime now."""
        obj["SyncToken"] = str(int(obj.get("SyncToken", "0")) + 1)
        obj["MetaData"]["LastUpdatedTime"] = wire.iso_seconds(self.local(now))

    def remove(self, entity: str, entity_id: str, now: datetime) -> None:
        table = self.table(entity)
        if self.journal is not None and entity_id in table:
            self.journal.keep(entity, table[entity_id])
            self.journal.orders.setdefault(entity, list(table))
        table.pop(entity_id, None)
        self.indexes.drop(entity, entity_id)
        self.tombstones.append((entity, entity_id, wire.iso_seconds(self.local(now))))

    def snapshot(self) -> dict[str, dict[str, Entity]]:
        return copy.deepcopy(self.store)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All or nothing: if the block raises, the company is as it was before (objects,
        table order, Ids, tombstones, voids). Objects are copied when first got, not up front."""
        if self.journal is not None:
            yield  # already inside a write
            return
        journal = Journal(
            self.next_id,
            self.next_address_id,
            len(self.tombstones),
            set(self.voided),
            frozenset(self.store),
        )
        self.journal = journal
        try:
            yield
        except BaseException:
            self._undo(journal)
            raise
        finally:
            self.journal = None

    def _undo(self, journal: Journal) -> None:
        for entity, obj_id in journal.inserted:
            self.table(entity).pop(obj_id, None)
        for (entity, obj_id), (obj, before) in journal.kept.items():  # never inserted ones
            obj.clear()
            obj.update(before)
            self.table(entity)[obj_id] = obj  # an update may have stored a new object
        for entity, order in journal.orders.items():
            table = self.table(entity)
            restored = {obj_id: table[obj_id] for obj_id in order if obj_id in table}
            table.clear()
            table.update(restored)
        for entity in set(self.store) - journal.tables:
            if not self.store[entity]:
                del self.store[entity]
        self.next_id = journal.next_id
        self.next_address_id = journal.next_address_id
        del self.tombstones[journal.tombstones :]
        self.voided = journal.voided
        self.indexes.clear()  # rebuilt on next use

    # --- indexed lookups (see index.py) -------------------------------------------------------

    def find(self, entity: str, conditions: Iterable[tuple[str, list[Any]]]) -> list[Entity] | None:
        """Candidates for equality conditions (query property, any of these values), in table
        order, from the most selective one: a superset of the matches, so re-check them. None when
        no index can answer (scan instead)."""
        table = self.indexes.table(entity, self.table(entity))
        best: tuple[int, FieldIndex, list[Hashable]] | None = None
        for name, values in conditions:
            keys: list[Hashable] = []
            for value in values:
                probe = probe_keys(value)
                if probe is None:
                    break
                keys.extend(probe)
            else:
                index = table.field("query", name)
                size = index.size(keys)
                if best is None or size < best[0]:
                    best = (size, index, keys)
        return None if best is None else table.rows(best[1].find(best[2]))

    def same_name(self, entity: str, name: str, value: str) -> list[Entity]:
        """Objects whose `name` equals `value` as name uniqueness compares (trimmed, case)."""
        table = self.indexes.table(entity, self.table(entity))
        return table.rows(table.field("unique", name).find((unique_key(value),)))

    def highest_number(self, entities: Iterable[str], name: str) -> Entity | None:
        """The object whose `name` ends in the highest number; on a tie the last one in
        (entity order, table order), as a scan keeping the last maximum would find."""
        best: tuple[int, TableIndex, set[str]] | None = None
        for entity in entities:
            table = self.indexes.table(entity, self.table(entity))
            buckets = cast("dict[int, set[str]]", table.field("number", name).buckets)
            if buckets:
                top = max(buckets)
                if best is None or top >= best[0]:
                    best = (top, table, buckets[top])
        if best is None:
            return None
        return best[1].rows(best[2])[-1]


def new_realm_id() -> str:
    return str(9_130_000_000_000_000_000 + secrets.randbelow(10**15))


def ref(obj: Entity, name_field: str = "Name") -> dict[str, str]:
    reference = {"value": obj["Id"]}
    name = obj.get(name_field) or obj.get("DisplayName") or obj.get("Name")
    if name:
        reference["name"] = name
    return reference
