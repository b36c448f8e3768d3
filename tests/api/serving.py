"""The API served by uvicorn over real HTTP, in a thread (for what an in-process transport
cannot show: the fuzzer's requests, a refused body's connection)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

from rentsync.api.app import create_app
from rentsync.demo.emulator import free_port
from rentsync.settings import Settings


@contextlib.contextmanager
def served_api(settings: Settings) -> Iterator[str]:
    """The API (no worker) on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, with_worker=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
