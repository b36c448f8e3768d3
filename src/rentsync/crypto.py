"""Secrets at rest: the QBO tokens are encrypted with a key derived from `RENTSYNC_SECRET_KEY`.

- AES-256-GCM with a random 96-bit nonce per value; the key comes from the secret by HKDF-SHA256
  (one derived key per purpose, so the OAuth `state` signing key is not the encryption key).
- Each value is bound to where it is stored (associated data, e.g. "qbo_connections:7:refresh"),
  so an encrypted token cannot be moved to another company's row and still decrypt.
- Without `RENTSYNC_SECRET_KEY` (development, the demo), a random secret is generated once into
  `<data_dir>/secret.key` with mode 0600; with `RENTSYNC_ENV=production` the variable is required
  (`load_settings` refuses to start without it).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rentsync.settings import Settings, SettingsError

KEY_FILE_NAME = "secret.key"
_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionFailed(ValueError):
    """A stored secret does not decrypt: wrong RENTSYNC_SECRET_KEY, or the value was altered."""


def derive_key(secret: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"rentsync",
        info=f"rentsync:{purpose}".encode(),
    ).derive(secret)


class TokenCipher:
    """Encrypts short secrets (tokens) for one purpose. Its repr shows no key."""

    def __init__(self, secret: bytes, *, purpose: str = "qbo-tokens:v1") -> None:
        self._aead = AESGCM(derive_key(secret, purpose))

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, *, context: str) -> str:
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
            raise DecryptionFailed(f"not an encrypted value for {context}")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, context.encode()).decode()
        except InvalidTag:
            raise DecryptionFailed(
                f"cannot decrypt {context}: RENTSYNC_SECRET_KEY changed or the value was altered"
            ) from None


def load_secret(settings: Settings) -> bytes:
    """The secret key: `RENTSYNC_SECRET_KEY`, else (not in production) the generated key file."""
    if settings.secret_key:
        return settings.secret_key.encode()
    if settings.is_production:
        raise SettingsError("RENTSYNC_SECRET_KEY is required when RENTSYNC_ENV=production")
    return _development_secret(settings.data_dir / KEY_FILE_NAME)


def _development_secret(path: Path) -> bytes:
    """Create the key file atomically (written aside, then linked into place) or read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, base64.urlsafe_b64encode(secrets.token_bytes(32)) + b"\n")
        finally:
            os.close(fd)
        try:
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(aside, path)
        finally:
            aside.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        raise SettingsError(f"the development key file {path} is damaged; delete it to regenerate")
    return secret
