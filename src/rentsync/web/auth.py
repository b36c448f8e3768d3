"""Who is signed in, and what a route requires.

`CurrentUser` (a route dependency) is the signed-in user of a valid session; without one the
browser is sent to the sign-in page (htmx requests get `HX-Redirect`). `requires(ability)`
refuses anyone whose role lacks it with 403, the same whether the button was shown or a POST
was forged.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request

from rentsync.api.deps import ServicesDep
from rentsync.domain.people import Ability, ConsoleUser

_USER_KEY = "uid"
_VERSION_KEY = "sv"


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    def __init__(self, ability: Ability) -> None:
        super().__init__(ability.value)
        self.ability = ability


def start_session(request: Request, user: ConsoleUser) -> None:
    """A fresh session for `user` (whatever the browser held before is dropped)."""
    request.session.clear()
    request.session[_USER_KEY] = user.id
    request.session[_VERSION_KEY] = user.session_version


def end_session(request: Request) -> None:
    request.session.clear()


async def optional_user(request: Request, services: ServicesDep) -> ConsoleUser | None:
    user_id = request.session.get(_USER_KEY)
    version = request.session.get(_VERSION_KEY)
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    user = await services.people.session_user(user_id, version)
    if user is None:
        request.session.clear()
    return user


async def current_user(
    request: Request, user: Annotated[ConsoleUser | None, Depends(optional_user)]
) -> ConsoleUser:
    if user is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise SignInRequired(quote(target, safe="/?=&"))
    return user


CurrentUser = Annotated[ConsoleUser, Depends(current_user)]


def requires(ability: Ability) -> Any:
    """A dependency giving the signed-in user when they hold `ability`, else 403."""

    async def check(user: CurrentUser) -> ConsoleUser:
        if not user.may(ability):
            raise Forbidden(ability)
        return user

    return Depends(check)


OptionalUser = Annotated[ConsoleUser | None, Depends(optional_user)]
