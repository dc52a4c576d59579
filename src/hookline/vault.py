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
import sqlite3
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hookline.errors import ConfigError
from hookline.settings import KEY_LENGTH_RULE, Settings
from hookline.settings import MIN_KEY_LENGTH as MIN_KEY_LENGTH
from hookline.store import schema


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
    database = settings.sqlite_path
    key_file = database.with_name(database.name + ".key")
    if not key_file.exists() and _holds_sealed_values(database):
        # A new key would open none of them: every delivery with a secret would fail.
        raise ConfigError(
            f"{database} holds encrypted webhook secrets but its key file {key_file} is "
            "missing: put the key file back beside the database (or give its key in "
            "HOOKLINE_SECRET_KEY); a new key could not decrypt them"
        )
    return Vault([_key_file_secret(key_file)])


def _holds_sealed_values(database: Path) -> bool:
    """Whether the SQLite ``database`` holds a sealed webhook secret or header (False when
    it does not exist, has no webhooks table yet, or cannot be read)."""
    if not database.is_file():
        return False
    table = schema.webhooks
    sealed = " OR ".join(
        f"{column.name} IS NOT NULL"
        for column in (table.c.sealed_secret, table.c.sealed_encrypted_headers)
    )
    try:
        # mode=rw: never create the file; a read takes no write lock
        with contextlib.closing(
            sqlite3.connect(f"{database.absolute().as_uri()}?mode=rw", uri=True)
        ) as connection:
            found = connection.execute(
                f"SELECT 1 FROM {table.name} WHERE {sealed} LIMIT 1"  # noqa: S608 (our names)
            ).fetchone()
    except sqlite3.Error:
        return False
    return found is not None


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
