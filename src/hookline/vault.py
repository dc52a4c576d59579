"""Encryption at rest for webhook secrets and encrypted headers.

Values are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under keys derived with
HKDF-SHA256 from ``HOOKLINE_SECRET_KEY``. The setting may hold several keys separated by
commas: the first seals, all of them open, so keys can be rotated.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hookline.errors import ConfigError
from hookline.settings import KEY_LENGTH_RULE, Settings
from hookline.settings import MIN_KEY_LENGTH as MIN_KEY_LENGTH


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys or any(len(key) < MIN_KEY_LENGTH for key in keys):
            raise ConfigError(f"invalid HOOKLINE_SECRET_KEY: {KEY_LENGTH_RULE}")
        self._fernet = MultiFernet([Fernet(_derive(key)) for key in keys])

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            raise ConfigError(
                "a stored secret cannot be decrypted: HOOKLINE_SECRET_KEY is not the key "
                "it was sealed with"
            ) from None


def _derive(key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"hookline vault v1")
    return base64.urlsafe_b64encode(hkdf.derive(key.encode()))


def vault_from_settings(settings: Settings) -> Vault:
    """The vault for ``settings``: the configured key, else a key file beside a SQLite database."""
    if settings.secret_key is not None:
        keys = [key.strip() for key in settings.secret_key.get_secret_value().split(",")]
        return Vault([key for key in keys if key])
    if settings.is_postgres:
        raise ConfigError("HOOKLINE_SECRET_KEY is required with a PostgreSQL database")
    return Vault(
        [_key_file_secret(settings.sqlite_path.with_name(settings.sqlite_path.name + ".key"))]
    )


def _key_file_secret(path: Path) -> str:
    """Read the key file, creating it (mode 0600) on first use.

    The key is written to a temporary file that is then linked into place, so a reader
    never sees a half-written file and two processes starting together agree on one key.
    """
    if not path.exists():
        try:
            _create_key_file(path)
        except OSError as error:
            raise ConfigError(f"cannot create the key file {path}: {error.strerror}") from None
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ConfigError(f"the key file {path} is empty")
    return key


def _create_key_file(path: Path) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hookline-key-")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
