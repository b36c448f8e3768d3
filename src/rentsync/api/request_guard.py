"""The one home for what no request may carry, whatever its route (issue 9: fuzzing found
each of these answered 500): checked before routing, refused with a 422 naming the place.

- A NUL character (U+0000) anywhere: PostgreSQL stores neither it in text nor `\\u0000` in jsonb.
- A lone surrogate (`\\ud800`) or bytes that are not UTF-8: not text at all.
- A JSON number that is not finite (`1e400`, `NaN`, `Infinity`) or absurdly long.
- A percent-escape in an /api path: every id is URL-safe as given, so an escaped one
  (`%2E%2E` for `..`) would be stored under a name its own status URL cannot reach.

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


def _walk(value: object, loc: list[str | int]) -> Iterator[dict[str, Any]]:
    if isinstance(value, str):
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
    return JSONResponse(status_code=422, content={"detail": problems})


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


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Every 422 of request validation, in FastAPI's shape (`detail`: a list of {type, loc,
    msg, input}), always serialisable."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422,
        content={"detail": _plain(jsonable_encoder(_plain(list(exc.errors()))))},
    )


class RequestGuard:
    """Pure ASGI middleware: reads the body once, checks it, hands it on unchanged."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
                if not message.get("more_body", False):
                    break
            problems += body_problems(bytes(body))
        if problems:
            await refusal(problems)(scope, receive, send)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)
