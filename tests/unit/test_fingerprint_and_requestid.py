"""Payload fingerprints (skip a write QBO already holds) and write requestids (B1)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rentsync.mapping.fingerprint import canonical_json, fingerprint
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.mapping.invoice import InvoiceRefs, invoice_create, invoice_update
from tests.unit.factories import make_order, order_key

REFS = InvoiceRefs(customer_id="59", item_ids={"tent-20x30": "3", "chair": "4"})


def test_fingerprint_is_stable_across_key_order_and_decimal_scale() -> None:
    one = {"Amount": Decimal("70.00"), "Line": [{"Qty": Decimal("1"), "b": True}], "a": None}
    two = {"a": None, "Line": [{"b": True, "Qty": Decimal("1.0000")}], "Amount": Decimal("70")}
    assert fingerprint(one) == fingerprint(two)
    assert len(fingerprint(one)) == 64


def test_fingerprint_changes_with_the_content() -> None:
    assert fingerprint({"Amount": Decimal("70.00")}) != fingerprint({"Amount": Decimal("70.01")})
    assert fingerprint({"Line": [1, 2]}) != fingerprint({"Line": [2, 1]})


def test_fingerprint_of_a_create_and_its_update_agree() -> None:
    order = make_order()
    create = invoice_create(order, REFS, key=order_key())
    update = invoice_update(order, REFS, key=order_key(), qbo_id="146", sync_token="5")
    assert fingerprint(create) == fingerprint(update)


def test_fingerprint_refuses_floats() -> None:
    with pytest.raises(TypeError, match="float"):
        fingerprint({"Amount": 70.0})


def test_canonical_json_writes_dates_and_numbers_plainly() -> None:
    assert (
        canonical_json({"b": date(2025, 6, 1), "a": Decimal("1E+3")})
        == '{"a":"1000","b":"2025-06-01"}'
    )


def test_b1_requestid_is_deterministic_and_within_50_characters() -> None:
    first = write_request_id(order_key(), Operation.CREATE, content_hash="ab" * 32)
    again = write_request_id(order_key(), Operation.CREATE, content_hash="ab" * 32)
    assert first == again
    assert len(first) <= 50


def test_b1_requestid_differs_per_company_document_content_operation_and_base() -> None:
    key = order_key()
    base = write_request_id(key, Operation.UPDATE, content_hash="a" * 64, base_sync_token="1")
    others = {
        write_request_id(
            order_key("other"), Operation.UPDATE, content_hash="a" * 64, base_sync_token="1"
        ),
        write_request_id(key, Operation.UPDATE, content_hash="b" * 64, base_sync_token="1"),
        write_request_id(key, Operation.DELETE, content_hash="a" * 64, base_sync_token="1"),
        write_request_id(key, Operation.UPDATE, content_hash="a" * 64, base_sync_token="2"),
        write_request_id(
            key, Operation.UPDATE, content_hash="a" * 64, base_sync_token="1", generation=1
        ),
    }
    assert base not in others
    assert len(others) == 5


def test_b1_writing_content_back_and_forth_never_reuses_an_old_requestid() -> None:
    """A, B, A, B: QBO would replay B's first response instead of writing B again."""
    key = order_key()
    ids = [
        write_request_id(key, Operation.UPDATE, content_hash=content, base_sync_token=str(token))
        for token, content in enumerate(["a" * 64, "b" * 64, "a" * 64, "b" * 64])
    ]
    assert len(set(ids)) == 4


def test_b1_a_create_after_the_qbo_object_was_deleted_gets_a_new_requestid() -> None:
    key = order_key()
    first = write_request_id(key, Operation.CREATE, content_hash="a" * 64)
    again = write_request_id(key, Operation.CREATE, content_hash="a" * 64, generation=1)
    assert first != again


def test_b1_create_has_no_base_sync_token_and_updates_need_one() -> None:
    with pytest.raises(ValueError, match="base SyncToken"):
        write_request_id(order_key(), Operation.CREATE, content_hash="a", base_sync_token="0")
    with pytest.raises(ValueError, match="base SyncToken"):
        write_request_id(order_key(), Operation.UPDATE, content_hash="a")
