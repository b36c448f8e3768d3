"""A sparse update that survives someone else's edit: one home for the stale-SyncToken rule."""

from __future__ import annotations

from collections.abc import Callable

from rentsync.mapping.common import Payload
from rentsync.qbo import errors
from rentsync.sync.ports import QboGateway, Written


async def update_current(
    client: QboGateway,
    entity: str,
    qbo_id: str,
    sync_token: str,
    *,
    payload: Callable[[str, str], Payload],
    requestid: Callable[[str], str],
) -> Written:
    """Write `payload(Id, SyncToken)` over the object, from the SyncToken the ledger knows.

    A stale SyncToken (5010) means QBO's object moved on since the ledger last saw it: edited
    in QuickBooks, or written by an earlier attempt of ours whose answer was lost. The current
    SyncToken is read and the write sent again with a requestid of its own (a requestid names
    the token it was written over, so QBO never replays the refusal)."""
    try:
        return await client.sparse_update(
            entity, payload(qbo_id, sync_token), requestid=requestid(sync_token)
        )
    except errors.Locked as stale:
        if stale.code != "5010":
            raise  # "in use by another user" (6000): the retry table runs it again later
    current = await client.read(entity, qbo_id)
    return await client.sparse_update(
        entity, payload(qbo_id, current.sync_token), requestid=requestid(current.sync_token)
    )
