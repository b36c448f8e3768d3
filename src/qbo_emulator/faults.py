"""QBO's error envelopes and the catalogue of faults the emulator raises.

Three shapes, as recorded: the JSON `Fault` (validation, system), the gateway's lowercase
`fault` for 401/403, and the XML throttle body for 429.
"""

from __future__ import annotations

from typing import Any

from qbo_emulator import choices


class QboFault(Exception):
    """A QBO business or system fault; the API turns it into a `Fault` envelope."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def error(self) -> dict[str, str]:
        return {
            "Message": self.message,
            "Detail": self.detail,
            "code": self.code,
            "element": self.element,
        }

    def fault(self) -> dict[str, Any]:
        return {"Error": [self.error()], "type": self.fault_type}


class ConnectionDropped(Exception):
    """Raised after a write was committed: the client must get no response at all."""


def gateway_body(status: int, detail: str, epoch_ms: int) -> dict[str, Any]:
    """The lowercase 401/403 body the API gateway sends."""
    if status == 401:
        message = "message=AuthenticationFailed; errorCode=003200; statusCode=401"
        code, fault_type = "3200", "AUTHENTICATION"
    else:
        message = "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403"
        code, fault_type = "3100", "SERVICE"
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [{"message": message, "detail": detail, "code": code, "element": None}],
            "type": fault_type,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }


def throttle_xml(time_text: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time_text}">'
        '<Fault type="SERVICE"><Error code="3001">'
        "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        "<Detail>The request limit was reached.  Try again later</Detail>"
        "</Error></Fault></IntuitResponse>"
    ).encode()


# --- catalogue --------------------------------------------------------------------------------


def not_found(entity: str, entity_id: str, element: str = "") -> QboFault:
    return QboFault(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} Id={entity_id})",
        element=element,
    )


# How QBO names an entity in "Invalid Reference Id : <list> element id <n> not found".
REFERENCE_LISTS = {
    "Customer": "Names", "Vendor": "Names", "Employee": "Names", "Account": "Accounts",
    "Item": "Items", "Class": "Klasses", "PaymentMethod": "PaymentMethods",
}  # fmt: skip


def invalid_reference(entity: str, entity_id: str, element: str = "") -> QboFault:
    """A reference to an object that does not exist (choices.INVALID_REFERENCE_WORDING)."""
    del element  # QBO leaves `element` empty here
    return QboFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {REFERENCE_LISTS.get(entity, entity)} element id {entity_id} "
        "not found",
    )


def invalid_id(value: str) -> QboFault:
    """An Id that is not a number (choices.INVALID_ID_CODE)."""
    return QboFault(
        "2030",
        "Invalid ID",
        f"Invalid ID : Id should be a valid number. Supplied value:{value}",
        element="Id",
    )


def missing_param(name: str) -> QboFault:
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def unsupported_property(name: str, entity: str) -> QboFault:
    return QboFault(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), '
        "not marked as ignorable specified in the request",
        element=name,
    )


def invalid_value(name: str, detail: str, code: str = "2030") -> QboFault:
    return QboFault(code, "Invalid value", detail, element=name)


def stale(entity: str, entity_id: str) -> QboFault:
    return QboFault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and API API were working on this at the same time. API API "
        f"finished before you did, so your work was not saved. ({entity} Id={entity_id})",
        status=choices.STALE_OBJECT_STATUS,
    )


def duplicate_doc_number(doc_number: str, txn_type: str, txn_id: str) -> QboFault:
    return QboFault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has "
        f"already been used. DocNumber={doc_number} is assigned to TxnType={txn_type} with "
        f"TxnId={txn_id}",
    )


def duplicate_name(name: str, entity_id: str) -> QboFault:
    return QboFault(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another customer, vendor or employee is already "
        f"using this name. Please use a different name. Name={name} Id={entity_id}",
    )


def string_too_long(element: str, maximum: int, supplied: int) -> QboFault:
    return QboFault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{maximum} "
        f"supported. Supplied length:{supplied}",
        element=element,
    )


def business(detail: str, code: str = "6000") -> QboFault:
    return QboFault(
        code,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def books_closed() -> QboFault:
    return QboFault(
        "6210",
        "Account Period Closed, Cannot Update Through Services API",
        "The account period has closed and the account books cannot be updated through through "
        "the QBO Services API. Please use the QBO website to make these changes.",
    )


def before_inv_start(item_name: str, inv_start: str) -> QboFault:
    return QboFault(
        "6270",
        "Transaction date is prior to start date for inventory item",
        f"InventoryTxnDatedBeforeItemStartDate: Transaction date is prior to start date for "
        f"inventory item {item_name} (InvStartDate {inv_start})",
    )


def plan_gated(feature: str) -> QboFault:
    return QboFault(
        choices.PLAN_GATED_CODE,
        choices.PLAN_GATED_MESSAGE,
        f"{feature} is available only in QuickBooks Online Plus or Advanced",
        status=choices.PLAN_GATED_STATUS,
    )


def locked() -> QboFault:
    return QboFault(
        choices.LOCKED_CODE,
        choices.LOCKED_MESSAGE,
        choices.LOCKED_DETAIL,
        status=choices.LOCKED_STATUS,
    )


def query_parse(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}", status=400)


def query_validation(detail: str) -> QboFault:
    return QboFault("4001", "Invalid query", f"QueryValidationError: {detail}", status=400)


def unsupported_operation(detail: str) -> QboFault:
    return QboFault("500", "Unsupported Operation", detail, status=400)


def system_failure(status: int = 500, code: str = "10000") -> QboFault:
    return QboFault(
        code,
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data. "
        "Please wait a few minutes and try again.",
        status=status,
        fault_type="SystemFault",
    )
