"""Deterministic QBO `requestid`s: the same write, recomputed by any process, gets the same id.

QBO replays the original response when it sees a requestid again (reference §3), so a retry
after a timeout or a dropped connection must send the id of the first attempt. It is derived
from (company, document, version, operation); nothing random, nothing stored.
"""

from __future__ import annotations

import hashlib

MAX_LENGTH = 50
"""QBO's limit for a single request."""
MAX_BATCH_LENGTH = 36
"""QBO's limit when the id is used on a batch (each bId then at most 10 characters)."""
_PREFIX = "rs-"


def request_id(
    company_id: int,
    document: str,
    version: str | int,
    operation: str,
    *,
    max_length: int = MAX_LENGTH,
) -> str:
    """E.g. `request_id(7, "invoice:INV-1001", 3, "create")` -> "rs-5f0c…" (≤ `max_length`).

    `document` is the rental system's key of the source document, `version` the version being
    written, `operation` what is done to it (create, update, void, delete, ...).
    """
    if not document:
        raise ValueError("a requestid needs the document's key")
    if not operation:
        raise ValueError("a requestid needs the operation")
    if not len(_PREFIX) + 16 <= max_length <= MAX_LENGTH:
        raise ValueError(f"max_length must be between {len(_PREFIX) + 16} and {MAX_LENGTH}")
    material = "\x1f".join((str(company_id), document, str(version), operation))
    digest = hashlib.sha256(material.encode()).hexdigest()
    return _PREFIX + digest[: max_length - len(_PREFIX)]


def private_note_marker(company_id: int, document: str) -> str:
    """A short, stable marker to put in PrivateNote for entities without a DocNumber to search."""
    digest = hashlib.sha256(f"{company_id}\x1f{document}".encode()).hexdigest()[:16]
    return f"[rentsync:{digest}]"
