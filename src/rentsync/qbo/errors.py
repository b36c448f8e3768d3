"""Every way a QuickBooks call can fail, classified by what the caller does next.

    QboError                      code, message, detail, element, http_status, intuit_tid, remedy
    ├── Unreachable               the request never reached QBO: nothing happened, retry later
    ├── UncertainOutcome          sent, no answer (timeout, dropped connection): it MAY have been
    │   │                         applied -> look the object up by its natural key, then retry
    │   │                         with the SAME requestid
    │   └── DuplicateRequest      600: QBO saw this requestid before
    ├── Retryable                 try the same request again later; not a job failure
    │   ├── Locked                5010 stale object, "object in use": re-read, retry in ~10 s
    │   ├── Throttled             429 / 3001 (JSON, XML or 403 form); `retry_after` seconds
    │   ├── ServerError           5xx, 10000; on a write the outcome is uncertain too
    │   └── CompanyUnavailable    130 wrong cluster, 150 under maintenance
    ├── NeedsUserAction           someone fixes something in QuickBooks or the rental system,
    │   │                         then presses Resync
    │   ├── NotConnected          no QuickBooks connection, or it was lost
    │   ├── AuthRevoked           3200, 3100, 100, 110, 120, invalid_grant
    │   ├── CompanyInactive       140 locked out, 6190 subscription, 10200 company reset
    │   ├── BadReference          610, 2500, 6250, 620: a referenced record is missing/inactive
    │   ├── DuplicateDocNumber    6140 (also "Duplicate Document Number" under another code)
    │   ├── DuplicateName         6240, 630
    │   ├── BooksClosed           6200, 6210 "Account Period Closed"
    │   ├── PlanDoesNotAllow      5020, 5030, inventory on Simple Start/Essentials
    │   ├── BeforeInventoryStart  6270
    │   ├── Tax                   6100, 6160, 6170, 6230, 6470, 6000 "calculating tax"
    │   ├── TransactionLocked     6540 deposited, 6480 bank-matched, 6450 settled, 6110/6120
    │   ├── CannotDelete          800 dependencies, 6220 open balance
    │   └── BusinessRule          6000 and the rest of 5000-9999 (6180, 6430, 6440, 6520, ...)
    └── PayloadRejected           our bug: 2010, 2020, 2030-2170, 2250, 2290, 6070, 6090, 500,
                                  1040, 4000-4002, 10100

Codes are not always reliable (6210 has been documented as "duplicate doc number"; throttling
comes as 429, 403 or inside a 3001 fault), so `classify` matches message patterns first, then the
code, then the code's range, then the HTTP status.

Nothing here does I/O: `from_response` turns a status, headers and body into an error.
"""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

DEFAULT_THROTTLE_WAIT_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class FaultError:
    """One entry of a Fault's `Error` array, whichever envelope it came in."""

    code: str = ""
    message: str = ""
    detail: str = ""
    element: str = ""


class QboError(Exception):
    """Base class. `str()` starts with the intuit_tid, which Intuit support asks for."""

    default_remedy: ClassVar[str] = (
        "QuickBooks refused the request. Read the message and detail, correct the document in "
        "the rental system or the record in QuickBooks, then press Resync."
    )
    fails_again: ClassVar[bool] = False
    """Whether the same request, sent again, meets the same refusal until someone changes the
    document or something in QuickBooks (its records, settings or subscription) or rentsync is
    fixed: a bulk sync's preview says a document that failed so at its current revision would
    fail again (`fails_again`). Not so for a failure that passes on its own (retryable,
    unreachable, uncertain) or the connection's (a skip until reconnected)."""

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        detail: str = "",
        element: str = "",
        http_status: int | None = None,
        intuit_tid: str | None = None,
        fault_type: str = "",
        remedy: str | None = None,
        errors: Sequence[FaultError] = (),
        outcome_uncertain: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.http_status = http_status
        self.intuit_tid = intuit_tid
        self.fault_type = fault_type
        self.remedy = remedy or self.default_remedy
        self.errors = tuple(errors)
        self.outcome_uncertain = outcome_uncertain
        """True when the request may have been applied (look up the natural key first)."""

    def __str__(self) -> str:
        tid = self.intuit_tid or "no-intuit_tid"
        head = f"{tid}: {type(self).__name__}"
        if self.code:
            head += f" {self.code}"
        text = self.message
        if self.detail and self.detail != self.message:
            text = f"{text}: {self.detail}" if text else self.detail
        return f"{head}: {text}" if text else head

    @property
    def plain(self) -> str:
        """For a person: the message and detail, and the intuit_tid only when QuickBooks gave
        one (`str()` is for the log and Intuit support: the tid, or "no-intuit_tid", first)."""
        text = self.message or type(self).__name__
        if self.detail and self.detail != self.message:
            text = f"{text}: {self.detail}"
        if self.code:
            text = f"{text} (QuickBooks code {self.code})"
        if self.intuit_tid:
            text = f"{text} (intuit_tid {self.intuit_tid})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"http_status={self.http_status!r}, intuit_tid={self.intuit_tid!r})"
        )


class Unreachable(QboError):
    default_remedy = (
        "QuickBooks could not be reached (network or DNS problem, or QuickBooks is down). "
        "Nothing was sent; the sync retries on its own."
    )


class UncertainOutcome(QboError):
    default_remedy = (
        "The connection to QuickBooks broke before it answered; the change may or may not have "
        "been saved. The sync looks the document up in QuickBooks before trying again; nothing to "
        "do."
    )

    def __init__(self, message: str = "", **kwargs: Any) -> None:
        kwargs["outcome_uncertain"] = True
        super().__init__(message, **kwargs)


class NoAnswerInTime(UncertainOutcome):
    """Sent, and no answer came before the client's deadline: QuickBooks may still be running
    the request (it ends one only after `domain.qbo.REQUEST_SECONDS`)."""


class DuplicateRequest(UncertainOutcome):
    default_remedy = (
        "QuickBooks has already seen this request; the document is probably there already. "
        "The sync looks it up by its number before trying again; nothing to do."
    )


class Retryable(QboError):
    default_remedy = "A temporary QuickBooks problem; the sync retries on its own."


class Locked(Retryable):
    default_remedy = (
        "Someone (or another app) changed this record in QuickBooks at the same time. The sync "
        "re-reads it and retries in about 10 seconds; nothing to do."
    )


class Throttled(Retryable):
    default_remedy = (
        "QuickBooks asked us to slow down (rate limit). The sync waits a minute and continues; "
        "nothing to do."
    )

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float = DEFAULT_THROTTLE_WAIT_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(Retryable):
    default_remedy = (
        "QuickBooks had an internal error. The sync retries on its own (after checking whether "
        "the document was saved); if it keeps failing, give Intuit support the intuit_tid."
    )


class CompanyUnavailable(Retryable):
    default_remedy = (
        "The QuickBooks company is temporarily unavailable (maintenance). The sync retries later."
    )


class NeedsUserAction(QboError):
    pass


class NotConnected(NeedsUserAction):
    default_remedy = (
        "QuickBooks is not connected for this company. Connect QuickBooks in rentsync "
        "(Settings > QuickBooks > Connect), then press Resync."
    )


class AuthRevoked(NeedsUserAction):
    default_remedy = (
        "QuickBooks no longer accepts rentsync's authorisation (the app was disconnected in "
        "QuickBooks, the user lost access, or the token expired). Reconnect QuickBooks in "
        "rentsync (Settings > QuickBooks > Connect) as a QuickBooks admin, then press Resync."
    )


class CompanyInactive(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "The QuickBooks company cannot be used (subscription ended, company locked out or "
        "reset). Fix the subscription in QuickBooks (Account and settings > Billing), then "
        "press Resync."
    )


class BadReference(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "The document refers to a customer, vendor, item, account or tax code that is missing "
        "or inactive in QuickBooks. Make it active again in QuickBooks (or map another one in "
        "the rental system's QuickBooks settings), then press Resync."
    )


class DuplicateDocNumber(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "QuickBooks already has a transaction with this number. Change the number in the "
        "rental system (or rename/delete the other transaction in QuickBooks), then press Resync."
    )


class DuplicateName(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "Another customer, vendor or employee in QuickBooks already uses this name (names are "
        "shared between the three lists). Rename one of them in QuickBooks or in the rental "
        "system, then press Resync."
    )


class BooksClosed(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "The books are closed in QuickBooks for this date. Change the closing date in "
        "QuickBooks (Account and settings > Advanced > Close the books) or date the document "
        "after it in the rental system, then press Resync."
    )


class PlanDoesNotAllow(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "The QuickBooks subscription does not include this feature (inventory tracking and "
        "purchase orders need Plus or Advanced). Upgrade in QuickBooks or turn the feature off "
        "in the rental system's QuickBooks settings, then press Resync."
    )


class BeforeInventoryStart(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "The document is dated before the inventory start date of one of its items. Move the "
        "item's 'As of date' earlier in QuickBooks (Products and services > Edit) or change the "
        "document date in the rental system, then press Resync."
    )


class Tax(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "QuickBooks rejected the sales tax on this document. Check the tax codes and rates "
        "mapped in the rental system's QuickBooks settings against QuickBooks (Taxes), and "
        "whether automated sales tax is on, then press Resync."
    )


class TransactionLocked(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "The transaction is locked in QuickBooks (deposited, matched to a bank feed, or "
        "settled). Undo that in QuickBooks (remove it from the deposit / unmatch it), then press "
        "Resync."
    )


class CannotDelete(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "QuickBooks cannot delete or void this record because other transactions use it or it "
        "has an open balance. Remove or void those in QuickBooks first, then press Resync."
    )


class BusinessRule(NeedsUserAction):
    fails_again = True
    default_remedy = (
        "QuickBooks rejected the document under one of its business rules (see the detail). "
        "Correct the document in the rental system or the setting in QuickBooks, then press "
        "Resync."
    )


class PayloadRejected(QboError):
    fails_again = True
    default_remedy = (
        "rentsync sent QuickBooks a request it could not accept: this is a rentsync bug. "
        "Report it with the intuit_tid; Resync after the fix."
    )


def fails_again(category: str) -> bool:
    """Whether a failure the ledger recorded under `category` (its class's name, as
    `sync.failures.describe` records it) meets the same refusal when the same request is sent
    again (`QboError.fails_again`); False for any other category (e.g. a mapping failure,
    which is checked anew)."""
    kind = _by_name().get(category)
    return kind is not None and kind.fails_again


@functools.cache
def _by_name() -> dict[str, type[QboError]]:
    found: dict[str, type[QboError]] = {}
    waiting: list[type[QboError]] = [QboError]
    while waiting:
        kind = waiting.pop()
        found[kind.__name__] = kind
        waiting.extend(kind.__subclasses__())
    return found


@dataclass(frozen=True)
class Rule:
    kind: type[QboError]
    codes: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    remedy: str | None = None


def _rule(
    kind: type[QboError], codes: str = "", pattern: str = "", remedy: str | None = None
) -> Rule:
    return Rule(
        kind=kind,
        codes=frozenset(codes.split()),
        pattern=re.compile(pattern, re.IGNORECASE) if pattern else None,
        remedy=remedy,
    )


_INVENTORY_OFF = (
    "Inventory tracking is off or not in this QuickBooks plan. Turn on 'Track quantity and "
    "price/rate' in QuickBooks (Account and settings > Sales; needs Plus or Advanced) or stop "
    "syncing items as inventory in the rental system's QuickBooks settings, then press Resync."
)

# Message patterns come first: they correct codes that are known to be unreliable.
MESSAGE_RULES: tuple[Rule, ...] = (
    _rule(Throttled, pattern=r"ThrottleExceeded|errorCode=003001|request limit was reached"),
    _rule(
        Locked,
        pattern=(
            r"Stale Object|in use by another|object (is )?in use|locked by another|being edited"
        ),
    ),
    _rule(DuplicateDocNumber, pattern=r"Duplicate Document Number"),
    _rule(DuplicateName, pattern=r"Duplicate Name Exists|name supplied already exists"),
    _rule(BooksClosed, pattern=r"Account Period Closed|books are closed|period has closed"),
    _rule(
        BeforeInventoryStart,
        pattern=r"DatedBeforeItemStartDate|before (the )?(item'?s? )?(inventory )?start date",
    ),
    _rule(Tax, pattern=r"calculating tax"),
    _rule(
        BusinessRule,
        pattern=r"amount must be positive|total (must not|cannot|can't) be negative",
        remedy=(
            "QuickBooks cannot hold a document whose total is below zero: the discounts are "
            "larger than the lines. Correct the discounts in the rental system (give the excess "
            "to the customer as a credit), then Update."
        ),
    ),
    _rule(
        PlanDoesNotAllow,
        pattern=r"Track quantity on hand is turned off|cannot be of type Inventory",
        remedy=_INVENTORY_OFF,
    ),
    _rule(
        BadReference,
        pattern=r"Categories cannot be used",
        remedy=(
            "A category (not a product or service) is used on a line. Map the line to a real "
            "product or service in the rental system's QuickBooks settings, then press Resync."
        ),
    ),
    _rule(BadReference, pattern=r"made inactive|Object Not Found|Invalid Reference Id"),
    _rule(
        AuthRevoked, pattern=r"AuthenticationFailed|AuthorizationFailed|ApplicationAuthorization"
    ),
)

CODE_RULES: tuple[Rule, ...] = (
    _rule(Throttled, "3001 003001"),
    _rule(AuthRevoked, "3200 3100 100 110 120 invalid_grant"),
    _rule(CompanyUnavailable, "130 150"),
    _rule(CompanyInactive, "140 6190 10200"),
    _rule(PayloadRejected, "500", remedy=None),
    _rule(DuplicateRequest, "600"),
    _rule(BadReference, "610 620 2500 6250"),
    _rule(DuplicateName, "630 6240"),
    _rule(CannotDelete, "800 6220"),
    _rule(PayloadRejected, "1040", remedy=None),
    _rule(
        PayloadRejected,
        "2010 2020 2030 2040 2050 2060 2070 2080 2090 2100 2110 2120 2130 2140 2150 2160 2170 "
        "2250 2290 6070 6090",
    ),
    _rule(PayloadRejected, "4000 4001 4002 10100"),
    _rule(Locked, "5010"),
    _rule(PlanDoesNotAllow, "5020 5030"),
    _rule(DuplicateDocNumber, "6140"),
    _rule(Tax, "6100 6160 6170 6230 6470"),
    _rule(BooksClosed, "6200 6210"),
    _rule(BeforeInventoryStart, "6270"),
    _rule(TransactionLocked, "6110 6120 6450 6480 6540"),
    _rule(
        BusinessRule,
        "6180",
        remedy=(
            "QuickBooks allows at most 5 levels of sub-customers or sub-items. Flatten the "
            "hierarchy in QuickBooks or the rental system, then press Resync."
        ),
    ),
    _rule(
        BusinessRule,
        "6430",
        remedy=(
            "An account mapped in the rental system's QuickBooks settings has the wrong type "
            "(e.g. an item's income account set to Accounts Receivable). Map an account of the "
            "right type, then press Resync."
        ),
    ),
    _rule(
        BusinessRule,
        "6440",
        remedy=(
            "A line has neither a product nor an account. Map the line's product or account in "
            "the rental system's QuickBooks settings, then press Resync."
        ),
    ),
    _rule(
        BusinessRule,
        "6520",
        remedy=(
            "A line with an inventory item has no quantity. Give the line a quantity in the "
            "rental system, then press Resync."
        ),
    ),
    _rule(BusinessRule, "6000"),
    _rule(ServerError, "10000"),
)

# Every code the reference's table lists, for the test that the catalogue covers it.
_CODE_INDEX: dict[str, Rule] = {code: rule for rule in CODE_RULES for code in rule.codes}


def rule_for_code(code: str) -> Rule | None:
    return _CODE_INDEX.get(_normalise_code(code))


def _normalise_code(code: str) -> str:
    code = code.strip()
    return code.lstrip("0") or code if code.isdigit() else code


def _by_range(code: str) -> type[QboError] | None:
    if not code.isdigit():
        return None
    number = int(code)
    if 1 <= number < 500:
        return AuthRevoked
    if 500 <= number < 5000:
        return PayloadRejected
    if 5000 <= number < 10000:
        return BusinessRule
    return ServerError


def _by_status(http_status: int | None) -> type[QboError]:
    if http_status is None:
        return QboError
    if http_status == 429:
        return Throttled
    if http_status in (401, 403):
        return AuthRevoked
    if http_status >= 500:
        return ServerError
    if http_status == 400:
        return PayloadRejected
    return QboError


def classify(error: FaultError, http_status: int | None) -> tuple[type[QboError], str | None]:
    """The class and remedy for one fault: message pattern, then code, range, HTTP status."""
    text = f"{error.message} {error.detail}"
    for rule in MESSAGE_RULES:
        if rule.pattern is not None and rule.pattern.search(text):
            return rule.kind, rule.remedy
    code = _normalise_code(error.code)
    by_code = _CODE_INDEX.get(code)
    if by_code is not None:
        return by_code.kind, by_code.remedy
    by_range = _by_range(code)
    if by_range is not None:
        return by_range, None
    return _by_status(http_status), None


def build(
    errors: Sequence[FaultError],
    *,
    http_status: int | None,
    intuit_tid: str | None,
    fault_type: str = "",
    retry_after: float | None = None,
    write: bool = False,
) -> QboError:
    """One exception for a Fault: classified on its first error, carrying all of them."""
    first = errors[0] if errors else FaultError(message=f"HTTP {http_status}")
    kind, remedy = classify(first, http_status)
    kwargs: dict[str, Any] = {
        "code": _normalise_code(first.code),
        "detail": first.detail,
        "element": first.element,
        "http_status": http_status,
        "intuit_tid": intuit_tid,
        "fault_type": fault_type,
        "remedy": remedy,
        "errors": errors,
    }
    if issubclass(kind, Throttled):
        kwargs["retry_after"] = (
            retry_after if retry_after is not None else DEFAULT_THROTTLE_WAIT_SECONDS
        )
    if issubclass(kind, ServerError) and write:
        kwargs["outcome_uncertain"] = True
    return kind(first.message, **kwargs)


def loads(body: bytes | str) -> Any:
    """JSON with every non-integer number as Decimal (money never passes through float)."""
    return json.loads(body, parse_float=Decimal)


def faults_in(document: Any) -> tuple[list[FaultError], str] | None:
    """The errors of a JSON document's Fault (either case), or None when it carries none."""
    if not isinstance(document, Mapping):
        return None
    fault = document.get("Fault") or document.get("fault")
    if not isinstance(fault, Mapping):
        if isinstance(document.get("error"), str):  # the OAuth token endpoint's shape
            return [
                FaultError(
                    code=str(document["error"]),
                    message=str(document["error"]),
                    detail=str(document.get("error_description") or ""),
                )
            ], "OAuth"
        return None
    raw = fault.get("Error") or fault.get("error") or []
    if isinstance(raw, Mapping):
        raw = [raw]
    found = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        found.append(
            FaultError(
                code=str(item.get("code") or ""),
                message=str(item.get("Message") or item.get("message") or ""),
                detail=str(item.get("Detail") or item.get("detail") or ""),
                element=str(item.get("element") or ""),
            )
        )
    return found, str(fault.get("type") or "")


def _xml_faults(body: bytes) -> tuple[list[FaultError], str] | None:
    try:
        root = ET.fromstring(body)  # noqa: S314 - a response from QBO, no entity expansion used
    except ET.ParseError:
        return None
    found: list[FaultError] = []
    fault_type = ""
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "Fault":
            fault_type = element.get("type", "")
        if tag != "Error":
            continue
        texts = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element}
        found.append(
            FaultError(
                code=element.get("code", ""),
                message=texts.get("Message", ""),
                detail=texts.get("Detail", ""),
                element=element.get("element", ""),
            )
        )
    return (found, fault_type) if found else None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def from_response(
    http_status: int,
    body: bytes,
    *,
    intuit_tid: str | None,
    retry_after: float | None = None,
    write: bool = False,
) -> QboError | None:
    """The error a response stands for, or None for a success without a Fault."""
    parsed: tuple[list[FaultError], str] | None = None
    stripped = body.lstrip()
    if stripped.startswith(b"<"):
        parsed = _xml_faults(stripped)
    elif stripped:
        try:
            parsed = faults_in(loads(stripped))
        except ValueError:
            parsed = None
    if parsed is None:
        if http_status < 400:
            return None
        text = body[:200].decode("utf-8", "replace").strip()
        parsed = ([FaultError(message=f"HTTP {http_status}", detail=text)], "")
    errors, fault_type = parsed
    return build(
        errors,
        http_status=http_status,
        intuit_tid=intuit_tid,
        fault_type=fault_type,
        retry_after=retry_after,
        write=write,
    )
