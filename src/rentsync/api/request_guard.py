"""The one home for what no request may carry, whatever its route (issue 9: fuzzing found
each of these answered 500): checked before routing, refused with a 422 naming the place.

- A NUL character (U+0000) anywhere: PostgreSQL stores neither it in text nor `\\u0000` in jsonb.
- A lone surrogate (`\\ud800`) or bytes that are not UTF-8: not text at all.
- A JSON number that is not finite (`1e400`, `NaN`, `Infinity`) or absurdly long.
- JSON nested deeper than `MAX_DEPTH` levels (Python's parser fails past about 1,000).
- A percent-escape in an /api path: every id is URL-safe as given, so an escaped one
  (`%2E%2E` for `..`) would be stored under a name its own status URL cannot reach.

It bounds what a request may make rentsync read and write back:
- A body larger than `RENTSYNC_MAX_REQUEST_BYTES` (`Settings.max_request_bytes`) is refused
  with 413 and never kept: known from its Content-Length, or as soon as a chunked body passes
  the limit. The rest of it is read and dropped, up to `DRAIN_BYTES`, so that a client sending
  its whole body before it reads the answer (most do) gets the 413 rather than a broken
  connection; past that the connection is closed.
- A 422 echoes at most `ECHO_CHARS` of each offending input (and of each place and message),
  and lists at most `MAX_PROBLEMS` problems, so a 10 MB string never comes back whole.

It also serialises every 422 safely: the offending input is echoed only when it is plain
JSON, so the refusal of a strange value can never fail itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_INTEGER_DIGITS = 100
MAX_DEPTH = 32
"""JSON nested deeper than this is refused: no document nests beyond 4 levels (an order's
line's rental period)."""
ECHO_CHARS = 200
"""The most of one offending input (as JSON text) a 422 echoes; longer ones are cut, saying
how long they were."""
DRAIN_BYTES = 16 * 1024 * 1024
"""How much of a refused body is read and dropped before the 413 (see the module's notes)."""
MAX_PROBLEMS = 50
"""The most problems one 422 lists; one more entry says how many were left out."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Unfit:
    """A JSON number that parsed into something no field can hold."""

    def __init__(self, text: str) -> None:
        self.text = text


def _problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg}


def text_problem(value: str) -> tuple[str, str] | None:
    """Why `value` cannot be stored as text, or None."""
    if "\x00" in value:
        return "string_nul", "contains a NUL character (\\u0000), which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "string_unicode", "contains a lone surrogate: not valid Unicode text"
    return None


def _too_deep(loc: list[str | int]) -> dict[str, Any]:
    return _problem(loc, f"JSON nested deeper than {MAX_DEPTH} levels", "json_too_deep")


def _walk(value: object, loc: list[str | int]) -> Iterator[dict[str, Any]]:
    if len(loc) > MAX_DEPTH and isinstance(value, dict | list):  # the body itself: level 1
        yield _too_deep(loc[: MAX_DEPTH + 1])
    elif isinstance(value, str):
        found = text_problem(value)
        if found is not None:
            yield _problem(loc, found[1], found[0])
    elif isinstance(value, _Unfit):
        yield _problem(
            loc,
            f"the number {value.text[:40]} is out of range (not a finite number of sensible size)",
            "number_out_of_range",
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            found = text_problem(key)
            if found is not None:
                yield _problem(
                    [*loc, key.encode("utf-8", "backslashreplace").decode()], *found[::-1]
                )
            else:
                yield from _walk(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*loc, index])


def _parse_float(text: str) -> float | _Unfit:
    number = float(text)
    return number if math.isfinite(number) else _Unfit(text)


def _parse_int(text: str) -> int | _Unfit:
    return _Unfit(text) if len(text) > MAX_INTEGER_DIGITS else int(text)


def body_problems(body: bytes) -> list[dict[str, Any]]:
    if not body:
        return []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [_problem(["body"], "the body is not UTF-8 text", "string_unicode")]
    try:
        document = json.loads(
            text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_Unfit
        )
    except RecursionError:
        return [_too_deep(["body"])]
    except ValueError:
        return []  # not JSON: the route's own parsing says so (json_invalid)
    return list(_walk(document, ["body"]))


def query_problems(query_string: bytes) -> list[dict[str, Any]]:
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return [_problem(["query"], "the query string is not UTF-8", "string_unicode")]
    problems = []
    for name, value in pairs:
        found = text_problem(name) or text_problem(value)
        if found is not None:
            problems.append(
                _problem(["query", name.replace("\x00", "\\u0000")], found[1], found[0])
            )
    return problems


def path_problems(scope: Scope) -> list[dict[str, Any]]:
    raw = scope.get("raw_path") or b""
    if scope["path"].startswith("/api/") and b"%" in raw:
        return [
            _problem(
                ["path"],
                "a percent-escape in the path: ids are URL-safe as given "
                "(letters, digits and . _ : -)",
                "url_unsafe",
            )
        ]
    if "\x00" in scope["path"]:
        return [_problem(["path"], "contains a NUL character", "string_nul")]
    return []


def refusal(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": _bounded(problems)})


def too_large(limit: int) -> JSONResponse:
    """The 413 of a body over `limit` bytes, in the API's error shape (`ErrorOut`)."""
    return JSONResponse(
        status_code=413,
        content={
            "detail": f"The request body is larger than rentsync accepts: at most {limit:,} bytes.",
            "remedy": "Send a smaller body (a document's lines and texts are bounded: an order "
            "holds at most 500 lines); the server's limit is RENTSYNC_MAX_REQUEST_BYTES.",
        },
        headers={"Connection": "close"},
    )


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number, or None (absent, chunked, or not a number:
    then the body is counted as it is read)."""
    for name, value in scope.get("headers") or []:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _plain(value: object) -> object:
    """`value` if it is plain, finite JSON; else its repr (what a 422 may safely echo)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value if text_problem(value) is None else ascii(value)
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _clip(text: str) -> str:
    if len(text) <= ECHO_CHARS:
        return text
    return f"{text[:ECHO_CHARS]}… ({len(text):,} characters in all)"


def _echo(value: object) -> object:
    """A plain input as a 422 echoes it: whole when its JSON is short, else its first
    `ECHO_CHARS` characters (a string's own, or the JSON text of anything else)."""
    if isinstance(value, str):
        return _clip(value)
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
        return value if len(text) <= ECHO_CHARS else _clip(text)
    return value


def _bounded(problems: list[Any]) -> list[Any]:
    """At most `MAX_PROBLEMS` problems, each with its input, place and message cut to size."""
    shown: list[Any] = []
    for problem in problems[:MAX_PROBLEMS]:
        if not isinstance(problem, dict):
            shown.append(problem)
            continue
        bounded = dict(problem)
        if "input" in bounded:
            bounded["input"] = _echo(bounded["input"])
        if isinstance(bounded.get("loc"), list):
            bounded["loc"] = [_clip(p) if isinstance(p, str) else p for p in bounded["loc"]]
        if isinstance(bounded.get("msg"), str):
            bounded["msg"] = _clip(bounded["msg"])
        if isinstance(bounded.get("ctx"), dict):
            bounded["ctx"] = {key: _echo(item) for key, item in bounded["ctx"].items()}
        shown.append(bounded)
    left_out = len(problems) - len(shown)
    if left_out > 0:
        shown.append(
            _problem(
                ["body"],
                f"{left_out:,} more problems not listed (the first {MAX_PROBLEMS} are)",
                "too_many_problems",
            )
        )
    return shown


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Every 422 of request validation, in FastAPI's shape (`detail`: a list of {type, loc,
    msg, input}), always serialisable and bounded (`_bounded`)."""
    assert isinstance(exc, RequestValidationError)
    plain = _plain(jsonable_encoder(_plain(list(exc.errors()))))
    assert isinstance(plain, list)
    return JSONResponse(status_code=422, content={"detail": _bounded(plain)})


class RequestGuard:
    """Pure ASGI middleware: reads the body once (up to `max_body_bytes`), checks it, hands it
    on unchanged."""

    def __init__(self, app: App, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            drain = declared <= self.max_body_bytes + DRAIN_BYTES
            await self._refuse_too_large(scope, receive, send, drained=0, more=drain)
            return
        problems = path_problems(scope) + query_problems(scope.get("query_string", b""))
        received: list[Message] = []
        if scope["method"] in _BODY_METHODS:
            body = bytearray()
            while True:
                message = await receive()
                received.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if len(body) > self.max_body_bytes:
                    # A chunked body (or one longer than it said): keep none of it.
                    more = bool(message.get("more_body", False))
                    drained, body = len(body), bytearray()
                    received.clear()
                    await self._refuse_too_large(scope, receive, send, drained=drained, more=more)
                    return
                if not message.get("more_body", False):
                    break
            problems += body_problems(bytes(body))
        if problems:
            await refusal(problems)(scope, receive, send)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse_too_large(
        self, scope: Scope, receive: Receive, send: Send, *, drained: int, more: bool
    ) -> None:
        """Read and drop the rest of the body (up to `DRAIN_BYTES` in all), then answer 413."""
        while more and drained <= self.max_body_bytes + DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            more = bool(message.get("more_body", False))
        await too_large(self.max_body_bytes)(scope, receive, send)
