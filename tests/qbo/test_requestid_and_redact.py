"""The requestid helper and the secret stripping used by the QuickBooks log."""

from __future__ import annotations

import pytest

from rentsync.qbo import redact
from rentsync.qbo.requestid import MAX_BATCH_LENGTH, private_note_marker, request_id


def test_requestid_is_deterministic_short_and_distinct() -> None:
    first = request_id(7, "invoice:INV-1001", 3, "create")
    assert first == request_id(7, "invoice:INV-1001", 3, "create")
    assert len(first) <= 50
    others = {
        request_id(8, "invoice:INV-1001", 3, "create"),
        request_id(7, "invoice:INV-1002", 3, "create"),
        request_id(7, "invoice:INV-1001", 4, "create"),
        request_id(7, "invoice:INV-1001", 3, "void"),
        first,
    }
    assert len(others) == 5
    assert len(request_id(7, "x" * 500, 3, "create", max_length=MAX_BATCH_LENGTH)) == 36
    with pytest.raises(ValueError):
        request_id(7, "", 1, "create")
    with pytest.raises(ValueError):
        request_id(7, "doc", 1, "create", max_length=51)


def test_marker_is_stable() -> None:
    assert private_note_marker(1, "inv:1") == private_note_marker(1, "inv:1")
    assert private_note_marker(1, "inv:1") != private_note_marker(2, "inv:1")


def test_form_bodies_lose_codes_and_tokens() -> None:
    text = redact.body(
        b"grant_type=authorization_code&code=AB12secretcode&redirect_uri=https%3A%2F%2Fx&client_secret=s3cr3t",
        "application/x-www-form-urlencoded",
    )
    assert "AB12secretcode" not in text and "s3cr3t" not in text
    assert "grant_type=authorization_code" in text


def test_json_bodies_lose_tokens_but_keep_fault_codes() -> None:
    text = redact.body(
        b'{"access_token":"eyJ.aaa.bbb","refresh_token":"RT1-xyz","Fault":{"Error":[{"code":"6140"}]}}'
    )
    assert "eyJ.aaa.bbb" not in text and "RT1-xyz" not in text
    assert '"code": "6140"' in text


def test_known_values_and_bearer_headers_are_removed_anywhere() -> None:
    text = redact.values(
        "Authorization: Bearer abc.def.ghi and the token tok-123456789 again", ["tok-123456789"]
    )
    assert "abc.def.ghi" not in text and "tok-123456789" not in text
    assert redact.path("/qbo/callback?code=C0DE1234&state=s&realmId=1").count("C0DE1234") == 0
