"""The requestid of each write, from what the write is: recomputable by any process (B1).

`rentsync.qbo.requestid.request_id` does the hashing and keeps the id within QBO's 50
characters; this module fixes WHAT goes into it, so that:

- a retry of the same write (after a timeout, a dropped connection, a crash) sends the same id,
  and QBO replays the first response instead of writing twice;
- a different write never reuses an id, or QBO would replay an old response instead of writing.
  The content hash alone is not enough: content A, then B, then A again, then B again would
  send B's old id. Updates therefore include the SyncToken they are based on (it grows with
  every write), and every write the document's write generation, which the ledger (one home:
  `store.ledger.LedgerRepository.record`) grows
  - after a definite refusal: QBO may replay a stored refusal for a reused id, so the next try
    (a delete refused once as "in use", a create after the cause was fixed) is a new write;
  - when it forgets the document's QBO object (deleted): a create after that is a new object.
"""

from __future__ import annotations

import enum

from rentsync.domain.ledger import DocumentKey
from rentsync.qbo.requestid import request_id

_HASH_PREFIX_LENGTH = 16


class Operation(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    VOID = "void"


def write_request_id(
    key: DocumentKey,
    operation: Operation,
    *,
    content_hash: str,
    base_sync_token: str | None = None,
    generation: int = 0,
) -> str:
    """E.g. `write_request_id(key, Operation.UPDATE, content_hash=fp, base_sync_token="3")`.

    `content_hash`: `fingerprint.fingerprint(payload)`. `base_sync_token`: the SyncToken the
    update, delete or void is sent with (None for a create). `generation`: see the module doc.
    """
    if (operation is Operation.CREATE) != (base_sync_token is None):
        raise ValueError("a create has no base SyncToken; every other write has one")
    if not content_hash:
        raise ValueError("a requestid needs the content hash")
    version = f"g{generation}.t{base_sync_token or '-'}.{content_hash[:_HASH_PREFIX_LENGTH]}"
    return request_id(
        key.company_id, f"{key.doc_type.value}:{key.source_id}", version, operation.value
    )
