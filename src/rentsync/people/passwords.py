"""Password hashing: Argon2id with argon2-cffi's default parameters (RFC 9106's low-memory
profile), run off the event loop (one hash takes tens of milliseconds)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_DUMMY_HASH: list[str] = []


def _hash(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """False for a wrong password or no stored hash; an unknown user costs as much time as a
    known one (a hash of nothing is checked), so timing does not tell which e-mails exist."""
    if stored is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(await hash_password("not a password of anyone"))
        await asyncio.to_thread(_verify, _DUMMY_HASH[0], password)
        return False
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at sign-in."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False
