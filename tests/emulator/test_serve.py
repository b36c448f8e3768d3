"""`qbo-emulator serve` as a real command: a subprocess on a free loopback port, over real HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

pytestmark = pytest.mark.e2e

REDIRECT = "https://app.example.com/callback"
COMMAND = Path(sys.executable).with_name("qbo-emulator")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(tmp_path: Path, *flags: str) -> Iterator[tuple[httpx2.Client, subprocess.Popen[bytes]]]:
    """Start the command, wait until it answers; SIGTERM it (if still running) on the way out."""
    port = _free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(COMMAND), "serve", "--port", str(port), "--no-limits", "--auto-approve", *flags],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 15
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if client.get("/admin/companies").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert time.monotonic() < deadline, "qbo-emulator serve did not answer"
                time.sleep(0.05)
            yield client, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=15)


def _connect(client: httpx2.Client) -> tuple[str, dict[str, str]]:
    """Admin: a company and an app; OAuth: the consent redirect, then the code for tokens."""
    company = client.post("/admin/companies", json={"plan": "plus", "name": "Served Co"})
    assert company.status_code == 201
    realm = company.json()["realmId"]
    app = client.post("/admin/apps", json={"redirect_uris": [REDIRECT]}).json()
    consent = client.get(
        "/connect/oauth2",
        params={
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "xyz",
            "realm_id": realm,
        },
    )
    assert consent.status_code == 302
    callback = parse_qs(urlsplit(consent.headers["location"]).query)
    assert callback["state"] == ["xyz"] and callback["realmId"] == [realm]
    tokens = client.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": callback["code"][0],
              "redirect_uri": REDIRECT},
        auth=(app["client_id"], app["client_secret"]),
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    headers = {
        "Authorization": f"Bearer {tokens.json()['access_token']}",
        "Accept": "application/json",
    }
    return realm, headers


def _query(client: httpx2.Client, realm: str, headers: dict[str, str], text: str) -> Any:
    response = client.get(f"/v3/company/{realm}/query", params={"query": text}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"]


def test_serve_oauth_create_query_drop_after_commit_sigterm_and_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with _serve(tmp_path, "--state-file", str(state)) as (client, process):
        realm, headers = _connect(client)
        created = client.post(
            f"/v3/company/{realm}/customer",
            params={"minorversion": "75"},
            json={"DisplayName": "Over HTTP"},
            headers=headers,
        )
        assert created.status_code == 200 and created.headers["intuit_tid"]
        customer = created.json()["Customer"]
        found = _query(
            client, realm, headers, "select * from Customer where DisplayName = 'Over HTTP'"
        )
        assert [c["Id"] for c in found["Customer"]] == [customer["Id"]]

        # drop after commit: the write is applied, the connection closes with no response
        plan = client.put(f"/admin/companies/{realm}/faults", json={"next": ["drop"]})
        assert plan.status_code == 200
        with pytest.raises(httpx2.TransportError) as dropped:
            client.post(
                f"/v3/company/{realm}/customer",
                params={"requestid": "drop-1"},
                json={"DisplayName": "Dropped"},
                headers=headers,
            )
        assert isinstance(dropped.value, httpx2.RemoteProtocolError | httpx2.ReadError)
        committed = _query(
            client, realm, headers, "select * from Customer where DisplayName = 'Dropped'"
        )
        assert len(committed["Customer"]) == 1
        # the retry with the same requestid gets the original response and creates nothing
        retry = client.post(
            f"/v3/company/{realm}/customer",
            params={"requestid": "drop-1"},
            json={"DisplayName": "Dropped"},
            headers=headers,
        )
        assert retry.status_code == 200
        assert retry.json()["Customer"]["Id"] == committed["Customer"][0]["Id"]
        assert process.poll() is None  # the server survives the aborted connection

        assert _stop(process) == 0
    assert state.is_file()

    with _serve(tmp_path, "--state-file", str(state)) as (client, process):
        again = _query(client, realm, headers, "select * from Customer orderby DisplayName")
        assert [c["DisplayName"] for c in again["Customer"]] == ["Dropped", "Over HTTP"]
        assert again["Customer"][1]["Id"] == customer["Id"]
        assert _stop(process) == 0


def test_serve_help_lists_the_flags() -> None:
    result = subprocess.run(
        [str(COMMAND), "serve", "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    for flag in ("--port", "--state-file", "--no-limits", "--auto-approve", "--token-ttl"):
        assert flag in result.stdout
