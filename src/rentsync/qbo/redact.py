"""Strip tokens and secrets from what goes into the QuickBooks log (and any error text).

Two passes: by key (OAuth form fields and JSON members that hold secrets), then by value (every
token the caller knows of is replaced wherever it still appears, e.g. echoed in an error).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "[REDACTED]"
MAX_BODY_CHARS = 64_000

# In a form body or query string (OAuth), `code` is the authorization code.
FORM_SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "id_token", "client_secret", "code", "token", "password"}
)
# In JSON, `code` is a fault code and stays. A vendor's TaxIdentifier (SSN or EIN) is personal
# data the log has no use for.
JSON_SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "token",
        "password",
        "taxidentifier",
    }
)
_BEARER = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if k.lower() in JSON_SECRET_KEYS and v else _json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value


def form(text: str) -> str:
    """A form body or query string with secret fields replaced."""
    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode(
        [(k, REDACTED if k.lower() in FORM_SECRET_KEYS and v else v) for k, v in pairs],
        safe="[]",
    )


def body(raw: bytes | str, content_type: str = "", secrets: Iterable[str] = ()) -> str:
    """A request or response body as text, safe to store."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            text = json.dumps(_json(json.loads(text)), ensure_ascii=False, default=str)
    elif "x-www-form-urlencoded" in content_type or (
        "=" in text and not stripped.startswith("<") and " " not in text.strip()
    ):
        text = form(text)
    text = values(text, secrets)
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + f"... [{len(text) - MAX_BODY_CHARS} more characters]"
    return text


def values(text: str, secrets: Iterable[str]) -> str:
    """Replace every known secret value, and any bearer/basic credential, in free text."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def path(url_path: str) -> str:
    """A path with its query string's secret fields replaced."""
    if "?" not in url_path:
        return url_path
    head, query = url_path.split("?", 1)
    return f"{head}?{form(query)}"
