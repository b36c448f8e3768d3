"""Change data capture: everything changed since a moment, deleted objects included."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qbo_emulator import choices, faults, wire
from qbo_emulator.books import Company
from qbo_emulator.entities import SPECS

MAX_OBJECTS = 1000
LOOK_BACK = timedelta(days=30)


def changes(
    company: Company, entities: str, changed_since: str | None, now: datetime | None = None
) -> dict[str, Any]:
    if not changed_since:
        raise faults.missing_param("changedSince")
    since = wire.parse_moment(changed_since)
    if since is None or since.tzinfo is None:
        raise faults.invalid_value("changedSince", f"Invalid date-time {changed_since}", "2070")
    if now is not None and since < now - LOOK_BACK:
        raise faults.QboFault(
            choices.CDC_TOO_OLD_CODE,
            "Invalid query",
            f"Operation cdc with changedSince date {changed_since} which is older than fixed days "
            "is not supported.",
            element="changedSince",
        )
    names = [name.strip() for name in entities.split(",") if name.strip()]
    if not names:
        raise faults.missing_param("entities")
    budget = MAX_OBJECTS
    responses: list[dict[str, Any]] = []
    for name in names:
        entity = next((e for e in SPECS if e.lower() == name.lower()), None)
        if entity is None:
            raise faults.invalid_value("entities", f"Unsupported entity {name}", "4001")
        found: list[dict[str, Any]] = []
        for obj in company.table(entity).values():
            stamp = wire.parse_moment(obj["MetaData"]["LastUpdatedTime"])
            if stamp is not None and stamp >= since:
                found.append(obj)
        for dead_entity, dead_id, when in company.tombstones:
            stamp = wire.parse_moment(when)
            if dead_entity == entity and stamp is not None and stamp >= since:
                found.append(
                    {
                        "Id": dead_id,
                        "status": "Deleted",
                        "domain": "QBO",
                        "MetaData": {"LastUpdatedTime": when},
                    }
                )
        found = found[:budget]
        budget -= len(found)
        if found:
            responses.append({entity: found, "startPosition": 1, "maxResults": len(found)})
        else:
            responses.append({})
    return {"QueryResponse": responses}
