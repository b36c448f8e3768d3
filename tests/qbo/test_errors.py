# ruff: noqa: E501  (real fault bodies are quoted verbatim)
"""The error catalogue, as a table of real QBO fault bodies (reference/qbo-api.md §2)."""

from __future__ import annotations

import pytest

from rentsync.qbo import errors

BODY_6140 = (
    b'{"Fault":{"Error":[{"Message":"Duplicate Document Number Error","Detail":"Duplicate '
    b"Document Number Error : You must specify a different number. This number has already "
    b'been used. DocNumber=O0010714 is assigned to TxnType=Invoice with TxnId=45823",'
    b'"code":"6140","element":""}],"type":"ValidationFault"},"time":"2020-12-15T04:54:25.476-08:00"}'
)
BODY_401 = (
    b'{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message='
    b'AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Malformed bearer token: '
    b'too short or too long","code":"3200","element":null}],"type":"AUTHENTICATION"},'
    b'"report":null,"queryResponse":null,"batchItemResponse":[],"attachableResponse":[],'
    b'"syncErrorResponse":null,"requestId":null,"time":1633520295688,"status":null,"cdcresponse":[]}'
)
BODY_403 = (
    b'{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message='
    b'ApplicationAuthorizationFailed; errorCode=003100; statusCode=403","detail":"The access '
    b'token does not have sufficient scope","code":"3100","element":null}],"type":"SERVICE"},'
    b'"report":null,"queryResponse":null,"batchItemResponse":[],"attachableResponse":[],'
    b'"syncErrorResponse":null,"requestId":null,"time":1633520295688,"status":null,"cdcresponse":[]}'
)
BODY_429_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-01-01T00:00:00.000-08:00">'
    b'<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; '
    b"errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  Try "
    b"again later</Detail></Error></Fault></IntuitResponse>"
)
BODY_403_THROTTLE_XML = BODY_429_XML.replace(b"statusCode=429", b"statusCode=403")
BODY_6210 = (
    b'{"Fault":{"Error":[{"code":6210,"Message":"Account Period Closed, Cannot Update Through '
    b'Services API","Detail":"The account period has closed and the account books cannot be '
    b'updated through through the QBO Services API. Please use the QBO website"}],'
    b'"type":"ValidationFault"}}'
)
BODY_6520 = (
    b'{"Fault":{"Error":[{"Message":"Missing Inventory Item Quantity","Detail":"Quantity '
    b'required for inventory item","code":"6520","element":""}],"type":"ValidationFault"},'
    b'"time":"2025-01-30T10:22:16.013-08:00"}'
)
BODY_2020 = (
    b'{"Fault":{"Error":[{"Message":"Required param missing, need to supply the required value '
    b'for the API","Detail":"Required parameter Line is missing in the request","code":"2020",'
    b'"element":"Line"}],"type":"ValidationFault"}}'
)
BODY_5010 = (
    b'{"Fault":{"Error":[{"Message":"Stale Object Error","Detail":"Stale Object Error : You and '
    b"API API were working on this at the same time. API API finished before you did, so your "
    b'work was not saved.","code":"5010","element":""}],"type":"ValidationFault"}}'
)
BODY_6240 = (
    b'{"Fault":{"Error":[{"Message":"Duplicate Name Exists Error","Detail":"The name supplied '
    b'already exists. : Another customer, vendor or employee is already using this name.",'
    b'"code":"6240","element":""}],"type":"ValidationFault"}}'
)
BODY_4001 = (
    b'{"Fault":{"Error":[{"Message":"Invalid query","Detail":"QueryValidationError: value 1500 '
    b'is too large. Max allowed value is 1000","code":"4001","element":""}],"type":"ValidationFault"}}'
)
BODY_6000_TAX = (
    b'{"Fault":{"Error":[{"Message":"A business validation error has occurred while processing '
    b'your request","Detail":"Business Validation Error: We\'re sorry, QuickBooks encountered '
    b"an error while calculating tax. Try reselecting the tax rate or reentering the product or "
    b'service item and saving the form again.","code":"6000","element":""}],"type":"ValidationFault"}}'
)
BODY_6000_INVENTORY = (
    b'{"Fault":{"Error":[{"Message":"A business validation error has occurred while processing '
    b'your request","Detail":"Business Validation Error: When you create an item, if Track '
    b'quantity on hand is turned off, the item cannot be of type Inventory.","code":"6000",'
    b'"element":""}],"type":"ValidationFault"}}'
)
BODY_610_INACTIVE = (
    b'{"Fault":{"Error":[{"Message":"Object Not Found","Detail":"Object Not Found : Something '
    b"you're trying to use has been made inactive. Check the fields with accounts, customers, "
    b'items, vendors or employees.","code":"610","element":""}],"type":"ValidationFault"}}'
)
BODY_2500 = (
    b'{"Fault":{"Error":[{"Message":"Invalid Reference Id","Detail":"Invalid Reference Id : '
    b'Names element id 999 not found","code":"2500","element":""}],"type":"ValidationFault"}}'
)
BODY_6270 = (
    b'{"Fault":{"Error":[{"Message":"InventoryTxnDatedBeforeItemStartDate","Detail":"Transaction '
    b'date is prior to start date for inventory item Tent","code":"6270","element":""}],'
    b'"type":"ValidationFault"}}'
)
BODY_5020 = (
    b'{"Fault":{"Error":[{"Message":"Permission Denied Error","Detail":"Purchase Order creation '
    b'is available only in QBO Plus","code":"5020","element":""}],"type":"ValidationFault"}}'
)
BODY_6100 = (
    b'{"Fault":{"Error":[{"Message":"Invalid line TaxCode","Detail":"Invalid TaxCode: 5 is not '
    b'TAX or NON","code":"6100","element":"TaxCodeRef"}],"type":"ValidationFault"}}'
)
BODY_10000 = (
    b'{"Fault":{"Error":[{"Message":"An application error has occurred while processing your '
    b'request","Detail":"System Failure Error: An unexpected error occurred","code":"10000",'
    b'"element":""}],"type":"SystemFault"}}'
)
BODY_INVALID_GRANT = b'{"error":"invalid_grant"}'
# B-ERR's table calls 6210 "duplicate doc number": the message decides, not the code.
BODY_6210_DUPLICATE = BODY_6140.replace(b'"6140"', b'"6210"')


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "element"),
    [
        (400, BODY_6140, errors.DuplicateDocNumber, "6140", ""),
        (401, BODY_401, errors.AuthRevoked, "3200", ""),
        (403, BODY_403, errors.AuthRevoked, "3100", ""),
        (429, BODY_429_XML, errors.Throttled, "3001", ""),
        (403, BODY_403_THROTTLE_XML, errors.Throttled, "3001", ""),
        (400, BODY_6210, errors.BooksClosed, "6210", ""),
        (400, BODY_6520, errors.BusinessRule, "6520", ""),
        (400, BODY_2020, errors.PayloadRejected, "2020", "Line"),
        (400, BODY_5010, errors.Locked, "5010", ""),
        (400, BODY_6240, errors.DuplicateName, "6240", ""),
        (400, BODY_4001, errors.PayloadRejected, "4001", ""),
        (400, BODY_6000_TAX, errors.Tax, "6000", ""),
        (400, BODY_6000_INVENTORY, errors.PlanDoesNotAllow, "6000", ""),
        (400, BODY_610_INACTIVE, errors.BadReference, "610", ""),
        (400, BODY_2500, errors.BadReference, "2500", ""),
        (400, BODY_6270, errors.BeforeInventoryStart, "6270", ""),
        (400, BODY_5020, errors.PlanDoesNotAllow, "5020", ""),
        (400, BODY_6100, errors.Tax, "6100", "TaxCodeRef"),
        (500, BODY_10000, errors.ServerError, "10000", ""),
        (400, BODY_INVALID_GRANT, errors.AuthRevoked, "invalid_grant", ""),
        (400, BODY_6210_DUPLICATE, errors.DuplicateDocNumber, "6210", ""),
        (502, b"<html><body>Bad Gateway</body></html>", errors.ServerError, "", ""),
        (503, b"", errors.ServerError, "", ""),
        (429, b"", errors.Throttled, "", ""),
    ],
)
def test_real_fault_bodies_are_classified(
    status: int, body: bytes, kind: type[errors.QboError], code: str, element: str
) -> None:
    error = errors.from_response(status, body, intuit_tid="1-abc-tid")
    assert type(error) is kind
    assert error.code == code
    assert error.element == element
    assert error.http_status == status
    assert error.intuit_tid == "1-abc-tid"
    assert str(error).startswith("1-abc-tid")
    assert error.remedy


def test_every_error_carries_message_and_detail() -> None:
    error = errors.from_response(400, BODY_6140, intuit_tid="tid-6140")
    assert isinstance(error, errors.DuplicateDocNumber)
    assert error.message == "Duplicate Document Number Error"
    assert "TxnId=45823" in error.detail
    assert error.fault_type == "ValidationFault"
    assert isinstance(error, errors.NeedsUserAction)
    assert "rental system" in error.remedy and "Resync" in error.remedy


def test_throttle_carries_the_wait() -> None:
    error = errors.from_response(429, BODY_429_XML, intuit_tid=None, retry_after=7.0)
    assert isinstance(error, errors.Throttled)
    assert isinstance(error, errors.Retryable)
    assert error.retry_after == 7.0
    default = errors.from_response(429, BODY_429_XML, intuit_tid=None)
    assert isinstance(default, errors.Throttled)
    assert default.retry_after == 60.0


def test_a_server_error_on_a_write_is_an_uncertain_outcome() -> None:
    on_write = errors.from_response(500, BODY_10000, intuit_tid="t", write=True)
    on_read = errors.from_response(500, BODY_10000, intuit_tid="t", write=False)
    assert on_write is not None and on_write.outcome_uncertain
    assert on_read is not None and not on_read.outcome_uncertain
    assert errors.UncertainOutcome("x").outcome_uncertain


def test_a_success_without_fault_is_no_error() -> None:
    assert errors.from_response(200, b'{"Invoice": {"Id": "1"}}', intuit_tid=None) is None


def test_several_errors_are_all_kept() -> None:
    body = (
        b'{"Fault":{"Error":[{"Message":"Required param missing","Detail":"Line","code":"2020"},'
        b'{"Message":"Invalid Reference Id","Detail":"x","code":"2500"}],"type":"ValidationFault"}}'
    )
    error = errors.from_response(400, body, intuit_tid=None)
    assert isinstance(error, errors.PayloadRejected)
    assert [e.code for e in error.errors] == ["2020", "2500"]


# Every code in the reference's §2 table ("Codes a rental→QBO sync will hit") and its
# "Locked conditions" note; each must have a class and a remedy.
_CODES_TEXT = (
    "003001 3001 3200 3100 100 110 120 130 140 150 500 600 610 620 630 800 1040 2010 2020 2030 "
    "2040 2050 2090 2100 2110 2120 2130 2140 2150 2160 2170 2250 2290 2500 4000 4001 4002 5010 "
    "5020 5030 6000 6070 6090 6100 6110 6120 6140 6160 6170 6180 6190 6200 6210 6220 6230 6240 "
    "6250 6270 6430 6440 6450 6470 6480 6520 6540 10000 10100 10200"
)
REFERENCE_CODES = _CODES_TEXT.split(" ")


@pytest.mark.parametrize("code", REFERENCE_CODES)
def test_the_catalogue_covers_every_reference_code(code: str) -> None:
    rule = errors.rule_for_code(code)
    assert rule is not None, f"no catalogue entry for {code}"
    error = errors.build(
        [errors.FaultError(code=code, message="m", detail="d")], http_status=400, intuit_tid="t"
    )
    assert type(error) is rule.kind
    assert len(error.remedy) > 40
    assert any(word in error.remedy for word in ("Resync", "retries", "continues", "nothing"))


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("3001", errors.Throttled),
        ("5010", errors.Locked),
        ("6140", errors.DuplicateDocNumber),
        ("6240", errors.DuplicateName),
        ("610", errors.BadReference),
        ("2500", errors.BadReference),
        ("6250", errors.BadReference),
        ("6200", errors.BooksClosed),
        ("6270", errors.BeforeInventoryStart),
        ("5030", errors.PlanDoesNotAllow),
        ("6160", errors.Tax),
        ("6170", errors.Tax),
        ("6230", errors.Tax),
        ("6470", errors.Tax),
        ("2010", errors.PayloadRejected),
        ("6070", errors.PayloadRejected),
        ("6090", errors.PayloadRejected),
        ("100", errors.AuthRevoked),
        ("110", errors.AuthRevoked),
        ("120", errors.AuthRevoked),
        ("10000", errors.ServerError),
        ("600", errors.DuplicateRequest),
        ("7777", errors.BusinessRule),
        ("2999", errors.PayloadRejected),
        ("42", errors.AuthRevoked),
    ],
)
def test_codes_map_to_the_next_action(code: str, kind: type[errors.QboError]) -> None:
    error = errors.build([errors.FaultError(code=code)], http_status=400, intuit_tid=None)
    assert type(error) is kind


def test_str_without_tid_says_so() -> None:
    error = errors.Locked("Stale Object Error", code="5010")
    assert str(error).startswith("no-intuit_tid")
    assert "5010" in str(error)


def test_b5_the_catalogue_says_which_refusals_a_resend_meets_again() -> None:
    """The bulk preview plans "would fail again" from the ledger's recorded category (the
    class's name) by this one decision, not a list of its own."""
    again = {"DuplicateDocNumber", "BeforeInventoryStart", "BusinessRule", "Tax", "BadReference"}
    for category in again:
        assert errors.fails_again(category), category
    passing = {"Throttled", "Locked", "ServerError", "Unreachable", "UncertainOutcome"}
    connection = {"NotConnected", "AuthRevoked"}
    # A mapping failure is recorded as NeedsUserAction: the preview checks it anew instead.
    other = {"NeedsUserAction", "VerificationFailed", "InternalError", ""}
    for category in passing | connection | other:
        assert not errors.fails_again(category), category
    assert errors.fails_again(type(errors.PayloadRejected()).__name__)
