"""No token in plaintext: not in any table of the database, not in the captured logs, not in
any API response, after connect, refreshes (before expiry and on a 401), disconnect and
reconnect."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from psycopg import sql

from rentsync.settings import Settings
from tests.qbo_fixtures import qbo_harness


async def test_no_token_in_plaintext_anywhere(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[str] = []
    async with qbo_harness(settings) as h:
        responses.append(str(await h.connect()))
        client = await h.services.qbo.client_for(h.company_id)
        await client.create("Customer", {"DisplayName": "Secret Rentals"}, requestid="rs-secret")
        async with h.services.pool.connection() as conn:
            await conn.execute(
                "UPDATE qbo_connections SET access_expires_at = now() - interval '1 minute'"
            )
        h.services.qbo.tokens.forget(h.company_id)
        await client.preferences()
        h.remember_tokens()
        h.clock.offset = timedelta(hours=25)  # a 401, then a refresh that rotates (daily)
        await client.preferences()
        h.remember_tokens()
        h.clock.offset = timedelta(0)
        log_page = await h.api.get("/api/v1/qbo/log?limit=500", headers=h.headers)
        responses.append(log_page.text)
        responses.append((await h.api.delete("/api/v1/qbo/connection", headers=h.headers)).text)
        responses.append(str(await h.connect()))
        h.remember_tokens()
        stored = await h.services.connections.get(h.company_id)
        assert stored is not None and stored.tokens is not None
        oauth = h.emulator.emulator.oauth
        codes = {t for t in h.seen_tokens if t.startswith("AB11")}
        tokens = {t for t in h.seen_tokens if len(t) >= 16} - codes | {
            stored.tokens.access_token,
            stored.tokens.refresh_token,
            h.client_secret,
        }
        assert len(tokens) >= 8  # several generations of access and refresh tokens
        assert oauth.codes == {} and len(codes) == 2  # both codes were used once

        dump: list[str] = []
        async with h.services.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
            tables = [row[0] for row in await cursor.fetchall()]
            assert "qbo_connections" in tables and "qbo_log" in tables
            for table in tables:
                cursor = await conn.execute(
                    sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
                )
                dump.extend(row[0] for row in await cursor.fetchall())
        database_text = "\n".join(dump)
        assert "Secret Rentals" in database_text  # the dump does see the log's bodies
        logs_text = caplog.text + "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
        for secret in tokens | codes:
            assert secret not in database_text
            for response in responses:
                assert secret not in response
        # The captured logs include the test's own HTTP clients (the "browser" logs the callback
        # URL with its single-use code), so codes are checked in the database and responses only.
        for secret in tokens:
            assert secret not in logs_text
