"""Per-company state: entities, Ids, SyncTokens, tombstones for CDC, the requestid replay cache."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from qbo_emulator import faults, wire

Entity = dict[str, Any]


@dataclass
class Replay:
    status: int
    body: bytes
    content_type: str


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
    replays: dict[str, Replay] = field(default_factory=dict)
    preferences: Entity = field(default_factory=dict)
    company_info: Entity = field(default_factory=dict)

    # --- ids and metadata ---------------------------------------------------------------------

    def new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def today(self, moment: datetime) -> date:
        return self.local(moment).date()

    def table(self, entity: str) -> dict[str, Entity]:
        return self.store.setdefault(entity, {})

    def get(self, entity: str, entity_id: str) -> Entity | None:
        return self.store.get(entity, {}).get(str(entity_id))

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
        self.table(entity)[obj["Id"]] = obj
        return obj

    def touch(self, obj: Entity, now: datetime) -> None:
        """Record a modification: SyncToken + 1, LastUpdatedTime now."""
        obj["SyncToken"] = str(int(obj.get("SyncToken", "0")) + 1)
        obj["MetaData"]["LastUpdatedTime"] = wire.iso_seconds(self.local(now))

    def remove(self, entity: str, entity_id: str, now: datetime) -> None:
        self.table(entity).pop(entity_id, None)
        self.tombstones.append((entity, entity_id, wire.iso_seconds(self.local(now))))

    def snapshot(self) -> dict[str, dict[str, Entity]]:
        return copy.deepcopy(self.store)


def new_realm_id() -> str:
    return str(9_130_000_000_000_000_000 + secrets.randbelow(10**15))


def ref(obj: Entity, name_field: str = "Name") -> dict[str, str]:
    reference = {"value": obj["Id"]}
    name = obj.get(name_field) or obj.get("DisplayName") or obj.get("Name")
    if name:
        reference["name"] = name
    return reference
