"""Every failure the engine records, in one shape: what the ledger, the status API and the
system messages show (code, plain message, detail, remedy, category, intuit_tid)."""

from __future__ import annotations

from typing import Any

from rentsync.mapping.errors import MappingError
from rentsync.qbo import errors


class RetryLater(Exception):
    """The document is pending again; run its job once more in `seconds`."""

    def __init__(self, seconds: float, cause: Exception) -> None:
        super().__init__(f"retry in {seconds:.1f} s after {type(cause).__name__}")
        self.seconds = seconds
        self.cause = cause


class QueuedBehind(Exception):
    """The run's document depends on one with a change still queued behind this run's job:
    its sync was deferred again behind that change, and this run ends without writing."""

    def __init__(self, behind: str) -> None:
        super().__init__(f"behind the queued change of {behind}")
        self.behind = behind


class VerificationFailed(Exception):
    """QBO accepted the write but its figures differ from the source (B2)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        detail: str,
        remedy: str,
        qbo: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.remedy = remedy
        self.qbo = qbo
        """What QBO holds now (it accepted the write): recorded with the failure."""


def describe(error: Exception) -> dict[str, Any]:
    """The ledger's record of a failure; never carries a token (errors are built from QBO's
    fault bodies, already redacted by the client)."""
    if isinstance(error, errors.QboError):
        return {
            "code": error.code or type(error).__name__,
            "message": error.message or str(error),
            "detail": error.detail,
            "remedy": error.remedy,
            "category": type(error).__name__,
            "element": error.element or "",
            "intuit_tid": error.intuit_tid,
            "outcome_uncertain": error.outcome_uncertain,
        }
    if isinstance(error, MappingError):
        return {
            "code": error.code,
            "message": error.message,
            "detail": f"field: {error.field}",
            "remedy": error.remedy,
            "category": "NeedsUserAction",
            "element": error.field,
            "intuit_tid": None,
        }
    if isinstance(error, VerificationFailed):
        return {
            "code": error.code,
            "message": error.message,
            "detail": error.detail,
            "remedy": error.remedy,
            "category": "VerificationFailed",
            "element": "",
            "intuit_tid": None,
        }
    return {
        "code": "rentsync_internal_error",
        "message": f"{type(error).__name__}: {error}",
        "detail": "",
        "remedy": "This is a fault in rentsync; it is retried. If it persists, contact support.",
        "category": "InternalError",
        "element": "",
        "intuit_tid": None,
    }
