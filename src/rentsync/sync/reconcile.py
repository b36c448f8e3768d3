"""reconcile(document key): make QuickBooks match the newest snapshot, then record the outcome.

One flow for every document kind:

    snapshot + ledger row -> the kind's handler (sync, or remove once deleted):
        policy -> dependencies -> mapping -> write with a deterministic requestid
        -> read-back -> ledger
    any failure -> the one retry table -> RetryLater (the job runs again) or failed
    a dependency with a change queued behind this job -> the sync deferred again behind it

The kinds, and what differs between them, are in the registry (`sync.kinds`). A failure is
recorded with its code, message and remedy; the pure retry table decides whether the job runs
again (RetryLater) or the document is marked failed until someone fixes the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rentsync.domain.clock import utcnow
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, QueueJob, SkipReason, SyncState
from rentsync.mapping.errors import MappingError
from rentsync.qbo import errors
from rentsync.sync import retry
from rentsync.sync.failures import QueuedBehind, RetryLater, VerificationFailed, describe
from rentsync.sync.kinds.base import KindHandler, Run
from rentsync.sync.ports import Ledger

log = logging.getLogger(__name__)

_SYNCABLE = (errors.QboError, MappingError, VerificationFailed)


class Reconciler:
    def __init__(
        self,
        *,
        ledger: Ledger,
        handlers: Mapping[DocumentType, KindHandler],
        rules: Mapping[DocumentType, retry.RetryRule],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._ledger = ledger
        self._handlers = handlers
        self._rules = rules
        self._clock = clock

    async def reconcile(self, key: DocumentKey, *, job: QueueJob | None = None) -> str:
        """Run one reconciliation; returns the outcome, raises RetryLater to run again.
        `job`: the queue job running it (the outcome's statement may end it)."""
        started = self._clock()
        document, record, version = await self._ledger.get_with_document(key)
        if document is None or record is None:
            return "nothing_to_do"  # the company or document was removed meanwhile
        run = Run(
            key=key,
            document=document,
            record=record,
            started=started,
            company_version=version,
            job=job,
        )
        handler = self._handlers[key.doc_type]
        try:
            if document.deleted:
                return await handler.remove(run)
            return await handler.sync(run)
        except QueuedBehind as behind:
            # Still pending: its sync runs again after the dependency's queued change.
            log.info(
                "sync requeued behind a dependency",
                extra={
                    "action": "sync.requeued",
                    "company_id": key.company_id,
                    "doc_key": key.lock(),
                    "behind": behind.behind,
                },
            )
            return "requeued"
        except _SYNCABLE as error:
            qbo = error.qbo if isinstance(error, VerificationFailed) else None
            return await self._failed(run, error, qbo=qbo)

    async def _failed(
        self, run: Run, error: Exception, *, qbo: dict[str, Any] | None = None
    ) -> str:
        key, document, record = run.key, run.document, run.record
        if isinstance(error, errors.NotConnected | errors.AuthRevoked):
            # The connection was lost during the run (e.g. the refresh token was revoked):
            # a skip with the reason, like any document while the connection is lost (R13).
            await self._ledger.record(
                key,
                state=SyncState.SKIPPED,
                revision=document.revision,
                started_at=run.started,
                outcome=f"skipped: {error}",
                skip_reason=SkipReason.CONNECTION_LOST.value,
                qbo=qbo,
            )
            return "skipped"
        now = self._clock()
        hint = error.retry_after if isinstance(error, errors.Throttled) else None
        decision = retry.decide(
            error,
            rule=self._rules[key.doc_type],
            attempts=record.attempts,
            failing_since=record.failing_since or now,
            now=now,
            server_hint=hint,
        )
        again = isinstance(decision, retry.RetryIn)
        detail = describe(error)
        if record.write_intent and retry.kind_of(error) is retry.Kind.TRANSIENT:
            # A create's outcome is still unknown (e.g. the lookup after the dropped answer got
            # a 5xx): keep the requestid, so the next try looks up again and resends the same
            # one (QBO replays it rather than creating the document a second time, B1).
            detail["outcome_uncertain"] = True
        log.info(
            "sync attempt failed",
            extra={
                "action": "sync.failed",
                "company_id": key.company_id,
                "doc_key": key.lock(),
                "code": detail["code"],
                "intuit_tid": detail["intuit_tid"],
                "retry": again,
            },
        )
        await self._ledger.record(
            key,
            state=SyncState.PENDING if again else SyncState.FAILED,
            revision=document.revision,
            started_at=run.started,
            outcome=f"{'retrying' if again else 'failed'}: {detail['code']}",
            error=detail,
            counts_as_attempt=decision.counts,
            qbo=qbo,
        )
        if isinstance(decision, retry.RetryIn):
            raise RetryLater(decision.seconds, error)
        return "failed"
