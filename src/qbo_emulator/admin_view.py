"""A read-only HTML view of one object, the emulator's stand-in for QBO's own screen of it.

rentsync's console links a synced document here when it talks to the emulator (against Intuit
it links the QBO web app). Everything shown is escaped; nothing can be changed from this page.
"""

from __future__ import annotations

import html
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from qbo_emulator import wire
from qbo_emulator.state import Emulator

_HEADLINE_FIELDS = (
    "DocNumber",
    "DisplayName",
    "Name",
    "TxnDate",
    "TotalAmt",
    "Balance",
    "POStatus",
    "Active",
    "SyncToken",
    "PrivateNote",
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;max-width:60rem}}
table{{border-collapse:collapse}}th,td{{text-align:left;padding:.25rem .75rem;
border-bottom:1px solid #ccc}}pre{{background:#f4f4f4;padding:1rem;overflow:auto}}</style>
</head><body>
<p>QBO emulator &middot; {company} (realm {realm})</p>
<h1>{title}</h1>
{body}
</body></html>"""


async def view_object(
    emu: Emulator, request: Request, realm: str, entity: str, entity_id: str
) -> Response:
    company = emu.companies.get(realm)
    stored = company.get(entity, entity_id) if company is not None else None
    if company is None or stored is None:
        return HTMLResponse(
            _PAGE.format(
                title="Not found",
                company="",
                realm=html.escape(realm),
                body=f"<p>No {html.escape(entity)} {html.escape(entity_id)} in this company.</p>",
            ),
            404,
        )
    rows = "".join(
        f"<tr><th scope='row'>{name}</th><td>{html.escape(_text(stored[name]))}</td></tr>"
        for name in _HEADLINE_FIELDS
        if name in stored
    )
    body = (
        f"<table><caption>Summary</caption>{rows}</table>"
        f"<h2>As the API returns it</h2><pre>{html.escape(_pretty(stored))}</pre>"
    )
    return HTMLResponse(
        _PAGE.format(
            title=html.escape(f"{entity} {entity_id}"),
            company=html.escape(company.name),
            realm=html.escape(realm),
            body=body,
        )
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else wire.dumps(value).decode()


def _pretty(value: object) -> str:
    return json.dumps(json.loads(wire.dumps(value)), indent=2)


ROUTES = (
    (
        "GET",
        r"/admin/companies/(?P<realm>[^/]+)/view/(?P<entity>[A-Za-z]+)/(?P<entity_id>[^/]+)",
        view_object,
    ),
)
