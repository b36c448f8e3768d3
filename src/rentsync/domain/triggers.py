"""Why a document is being reconciled now: an automatic change or an explicit user action."""

from __future__ import annotations

import enum

from rentsync.domain.documents import ChangeReason


class Trigger(enum.StrEnum):
    """Values equal the strings stored with a job and in the attempt history."""

    ARRIVAL = "arrival"
    """The document's first PUT: the rental system created it."""
    AUTOMATIC = "automatic"
    """A later change the rental system made on its own (an order auto-extended)."""
    UPDATE = "update"
    """A later PUT after a user saved the document ("Update" on an order, invoice saved)."""
    RESYNC = "resync"
    """"Resync with QuickBooks" on one document, or on every document failing with a code."""
    BULK_SYNC = "bulk_sync"
    """A bulk invoice sync by date range or invoice numbers (R18)."""

    @property
    def is_user_action(self) -> bool:
        """An update, resync or bulk sync: these release a document created before the
        company connected QuickBooks (R14)."""
        return self in _USER_ACTIONS


_USER_ACTIONS = frozenset({Trigger.UPDATE, Trigger.RESYNC, Trigger.BULK_SYNC})


def trigger_for_put(*, first_put: bool, reason: ChangeReason) -> Trigger:
    """The trigger of an ingest PUT: the first one is an arrival, whatever its reason; a later
    one is an update unless the rental system says it changed the document on its own."""
    if first_put:
        return Trigger.ARRIVAL
    if reason is ChangeReason.AUTO_EXTENDED:
        return Trigger.AUTOMATIC
    return Trigger.UPDATE
