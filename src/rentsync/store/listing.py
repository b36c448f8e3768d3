"""The console's documents list: every kind in one list, filtered, searched and keyset-paged.

Company-scoped in every query. How each kind shows (number, name, date, amount, party) comes
from the kind registry as `domain.listing.Listing` values, passed in as data (a VALUES list
joined on doc_type), so no kind is named here. Newest change first, on the index
`documents_company_updated_idx`; the cursor is the last row's (updated_at, doc_type, source_id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from rentsync.domain.documents import DocumentType
from rentsync.domain.listing import Listing

MAX_PAGE = 200


@dataclass(frozen=True, kw_only=True)
class ListedDocument:
    doc_type: str
    source_id: str
    revision: int
    deleted: bool
    updated_at: datetime
    state: str
    """The ledger's state; `not_synced` when nothing needed it in QBO yet."""
    number: str | None
    name: str | None
    party: str | None
    doc_date: str | None
    amount: str | None
    qbo_entity: str | None
    qbo_id: str | None
    error_code: str | None
    error_message: str | None
    skip_reason: str | None
    ledger_updated_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class DocumentFilter:
    doc_types: Sequence[DocumentType] = ()
    states: Sequence[str] = ()
    date_from: date | None = None
    date_to: date | None = None
    """Inclusive; on each kind's own date (kinds without one are left out when set)."""
    error_code: str | None = None
    """QBO's or rentsync's code of the failure, or a skip reason."""
    search: str | None = None
    """Part of the number, the party's name or the record's own name, or the exact id."""


Cursor = tuple[datetime, str, str]


def _spec_rows(listings: Mapping[DocumentType, Listing]) -> tuple[str, list[object]]:
    """A VALUES list, one row per kind: its paths into the body (text[]) and its party hops."""
    rows: list[str] = []
    params: list[object] = []
    for doc_type, listing in listings.items():
        hops = list(listing.party) + [None] * (2 - len(listing.party))
        rows.append(
            "(%s, %s::text[], %s::text[], %s::text[], %s::text[], %s, %s::text[], %s, %s::text[])"
        )
        params += [
            doc_type.value,
            list(listing.number) if listing.number else None,
            list(listing.name) if listing.name else None,
            list(listing.date) if listing.date else None,
            list(listing.amount) if listing.amount else None,
            hops[0].doc_type.value if hops[0] else None,
            list(hops[0].field) if hops[0] else None,
            hops[1].doc_type.value if hops[1] else None,
            list(hops[1].field) if hops[1] else None,
        ]
    return ", ".join(rows), params


_SELECT = """
WITH spec (doc_type, number_path, name_path, date_path, amount_path,
           hop1_type, hop1_path, hop2_type, hop2_path) AS (VALUES {values})
SELECT d.doc_type, d.source_id, d.revision, d.deleted_at IS NOT NULL AS deleted, d.updated_at,
       coalesce(r.state, 'not_synced') AS state,
       d.body #>> s.number_path AS number,
       d.body #>> s.name_path AS name,
       coalesce(p2.body, p1.body) ->> 'name' AS party,
       d.body #>> s.date_path AS doc_date,
       d.body #>> s.amount_path AS amount,
       r.qbo_entity, r.qbo_id,
       CASE WHEN r.state IN ('failed', 'pending') THEN r.error ->> 'code' END AS error_code,
       CASE WHEN r.state IN ('failed', 'pending') THEN r.error ->> 'message' END AS error_message,
       CASE WHEN r.state = 'skipped' THEN r.skip_reason END AS skip_reason,
       r.updated_at AS ledger_updated_at
FROM documents d
JOIN spec s ON s.doc_type = d.doc_type
LEFT JOIN sync_records r
       ON r.company_id = d.company_id AND r.doc_type = d.doc_type AND r.source_id = d.source_id
LEFT JOIN documents p1
       ON p1.company_id = d.company_id AND p1.doc_type = s.hop1_type
      AND p1.source_id = d.body #>> s.hop1_path
LEFT JOIN documents p2
       ON p2.company_id = d.company_id AND p2.doc_type = s.hop2_type
      AND p2.source_id = p1.body #>> s.hop2_path
WHERE d.company_id = %s{where}
ORDER BY d.updated_at DESC, d.doc_type DESC, d.source_id DESC
LIMIT %s
"""


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DocumentListRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def page(
        self,
        company_id: int,
        listings: Mapping[DocumentType, Listing],
        filters: DocumentFilter,
        *,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> list[ListedDocument]:
        """One page, newest change first; `after` is the last row of the previous page."""
        values, params = _spec_rows(listings)
        params.append(company_id)
        clauses: list[str] = []
        if filters.doc_types:
            clauses.append("d.doc_type = ANY(%s)")
            params.append([t.value for t in filters.doc_types])
        if filters.states:
            clauses.append("coalesce(r.state, 'not_synced') = ANY(%s)")
            params.append(list(filters.states))
        if filters.date_from is not None:
            clauses.append("d.body #>> s.date_path >= %s")
            params.append(filters.date_from.isoformat())
        if filters.date_to is not None:
            clauses.append("d.body #>> s.date_path <= %s")
            params.append(filters.date_to.isoformat())
        if filters.error_code:
            clauses.append(
                "((r.state IN ('failed', 'pending') AND r.error ->> 'code' = %s) "
                "OR (r.state = 'skipped' AND r.skip_reason = %s))"
            )
            params += [filters.error_code, filters.error_code]
        if filters.search:
            pattern = f"%{_escape_like(filters.search.strip())}%"
            clauses.append(
                "(d.source_id = %s OR d.body #>> s.number_path ILIKE %s "
                "OR d.body #>> s.name_path ILIKE %s "
                "OR coalesce(p2.body, p1.body) ->> 'name' ILIKE %s)"
            )
            params += [filters.search.strip(), pattern, pattern, pattern]
        if after is not None:
            clauses.append("(d.updated_at, d.doc_type, d.source_id) < (%s, %s, %s)")
            params += list(after)
        params.append(max(1, min(limit, MAX_PAGE)))
        where = "".join(f" AND {c}" for c in clauses)
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(ListedDocument)) as cur,
        ):
            await cur.execute(_SELECT.format(values=values, where=where), params)
            return await cur.fetchall()

    async def one(
        self,
        company_id: int,
        listings: Mapping[DocumentType, Listing],
        doc_type: DocumentType,
        source_id: str,
    ) -> ListedDocument | None:
        """One document as the list shows it (the document page's heading); None if the
        company has no such document."""
        values, params = _spec_rows(listings)
        params += [company_id, doc_type.value, source_id, 1]
        query = _SELECT.format(values=values, where=" AND d.doc_type = %s AND d.source_id = %s")
        async with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=class_row(ListedDocument)) as cur,
        ):
            await cur.execute(query, params)
            return await cur.fetchone()


def cursor_of(row: ListedDocument) -> Cursor:
    return (row.updated_at, row.doc_type, row.source_id)
