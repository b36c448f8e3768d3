"""R13: every skip reason shows a plain message and what to do about it."""

from __future__ import annotations

import pytest

from rentsync.domain.ledger import SkipReason


@pytest.mark.parametrize("reason", list(SkipReason))
def test_r13_every_skip_reason_has_a_message_and_a_remedy(reason: SkipReason) -> None:
    assert reason.message.endswith(".")
    assert len(reason.remedy) > 20
