"""Tests for hookline.vault: encryption at rest of secrets and encrypted headers (SPEC 5.5)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.errors import ConfigError
from hookline.settings import load_settings
from hookline.vault import MIN_KEY_LENGTH, Vault, vault_from_settings

OLD_KEY = "old-key-0123456789abcdefghijklmnopq"
NEW_KEY = "new-key-0123456789abcdefghijklmnopq"
PLAINTEXT = "0123456789abcdef0123456789abcdef"


# -- Vault ---------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", ["", PLAINTEXT, "名前=値; ünïcödé", '{"X-Key": "v"}'])
def test_sealed_value_opens_to_the_plaintext(plaintext: str) -> None:
    vault = Vault([NEW_KEY])
    sealed = vault.seal(plaintext)
    assert vault.open(sealed) == plaintext


def test_sealed_value_does_not_contain_the_plaintext() -> None:
    sealed = Vault([NEW_KEY]).seal(PLAINTEXT)
    assert PLAINTEXT not in sealed
    assert sealed.isascii()


def test_sealing_twice_gives_different_text() -> None:
    vault = Vault([NEW_KEY])
    assert vault.seal(PLAINTEXT) != vault.seal(PLAINTEXT)


def test_another_vault_with_the_same_key_opens_a_sealed_value() -> None:
    assert Vault([NEW_KEY]).open(Vault([NEW_KEY]).seal(PLAINTEXT)) == PLAINTEXT


def test_value_sealed_with_old_key_opens_after_rotation() -> None:
    sealed = Vault([OLD_KEY]).seal(PLAINTEXT)
    assert Vault([NEW_KEY, OLD_KEY]).open(sealed) == PLAINTEXT


def test_rotated_vault_seals_with_the_first_key() -> None:
    sealed = Vault([NEW_KEY, OLD_KEY]).seal(PLAINTEXT)
    assert Vault([NEW_KEY]).open(sealed) == PLAINTEXT
    with pytest.raises(ConfigError):
        Vault([OLD_KEY]).open(sealed)


def test_value_sealed_with_another_key_is_a_config_error() -> None:
    sealed = Vault([OLD_KEY]).seal(PLAINTEXT)
    with pytest.raises(ConfigError, match="HOOKLINE_SECRET_KEY is not the key"):
        Vault([NEW_KEY]).open(sealed)


@pytest.mark.parametrize("sealed", ["", "garbage", "gAAAAA"])
def test_value_that_is_not_sealed_is_a_config_error(sealed: str) -> None:
    with pytest.raises(ConfigError):
        Vault([NEW_KEY]).open(sealed)


def test_tampered_value_is_a_config_error() -> None:
    vault = Vault([NEW_KEY])
    sealed = vault.seal(PLAINTEXT)
    middle = len(sealed) // 2
    tampered = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    with pytest.raises(ConfigError):
        vault.open(tampered)


@pytest.mark.parametrize("length", [0, 1, MIN_KEY_LENGTH - 1])
def test_key_shorter_than_32_characters_is_a_config_error(length: int) -> None:
    with pytest.raises(ConfigError, match="at least 32 characters"):
        Vault(["k" * length])


def test_key_of_exactly_32_characters_is_accepted() -> None:
    assert MIN_KEY_LENGTH == 32
    vault = Vault(["k" * 32])
    assert vault.open(vault.seal("x")) == "x"


def test_any_short_key_among_several_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Vault([NEW_KEY, "short"])


def test_vault_without_keys_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Vault([])


@given(st.text())
def test_any_text_round_trips(plaintext: str) -> None:
    vault = Vault([NEW_KEY])
    try:
        sealed = vault.seal(plaintext)
    except UnicodeEncodeError:
        return  # a lone surrogate has no UTF-8 form; validation keeps them out
    assert vault.open(sealed) == plaintext


# -- vault_from_settings -------------------------------------------------------------------


def test_configured_secret_key_is_used(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/h.db", secret_key=NEW_KEY)
    sealed = vault_from_settings(settings).seal(PLAINTEXT)
    assert Vault([NEW_KEY]).open(sealed) == PLAINTEXT
    assert not (tmp_path / "h.db.key").exists()


def test_configured_secret_key_list_rotates(tmp_path: Path) -> None:
    sealed = Vault([OLD_KEY]).seal(PLAINTEXT)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/h.db", secret_key=f" {NEW_KEY} , {OLD_KEY} ,"
    )
    vault = vault_from_settings(settings)
    assert vault.open(sealed) == PLAINTEXT
    assert Vault([NEW_KEY]).open(vault.seal(PLAINTEXT)) == PLAINTEXT


def test_secret_key_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOOKLINE_SECRET_KEY", f"{NEW_KEY},{OLD_KEY}")
    monkeypatch.setenv("HOOKLINE_DATABASE_URL", f"sqlite:///{tmp_path}/h.db")
    sealed = Vault([OLD_KEY]).seal(PLAINTEXT)
    assert vault_from_settings(load_settings()).open(sealed) == PLAINTEXT


@pytest.mark.parametrize("secret_key", ["short", "", " , "])
def test_configured_secret_key_that_is_too_short_or_empty_is_a_config_error(
    tmp_path: Path, secret_key: str
) -> None:
    with pytest.raises(ConfigError, match="HOOKLINE_SECRET_KEY"):
        vault_from_settings(
            load_settings(database_url=f"sqlite:///{tmp_path}/h.db", secret_key=secret_key)
        )


def test_sqlite_database_gets_a_key_file_beside_it_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/hookline.db")
    vault_from_settings(settings)
    key_file = tmp_path / "hookline.db.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text("ascii").strip()) >= MIN_KEY_LENGTH


def test_key_file_is_reused_on_the_next_call(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/hookline.db")
    sealed = vault_from_settings(settings).seal(PLAINTEXT)
    key = (tmp_path / "hookline.db.key").read_text("ascii")
    assert vault_from_settings(settings).open(sealed) == PLAINTEXT
    assert (tmp_path / "hookline.db.key").read_text("ascii") == key


def test_each_sqlite_database_gets_its_own_key(tmp_path: Path) -> None:
    first = vault_from_settings(load_settings(database_url=f"sqlite:///{tmp_path}/a.db"))
    second = vault_from_settings(load_settings(database_url=f"sqlite:///{tmp_path}/b.db"))
    with pytest.raises(ConfigError):
        second.open(first.seal(PLAINTEXT))


def test_relative_sqlite_path_puts_the_key_file_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    vault_from_settings(load_settings(database_url="sqlite:///./hookline.db"))
    assert (tmp_path / "hookline.db.key").is_file()


def test_existing_key_file_is_used_as_the_key(tmp_path: Path) -> None:
    (tmp_path / "h.db.key").write_text(NEW_KEY + "\n", "ascii")
    vault = vault_from_settings(load_settings(database_url=f"sqlite:///{tmp_path}/h.db"))
    assert Vault([NEW_KEY]).open(vault.seal(PLAINTEXT)) == PLAINTEXT


def test_key_file_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/missing-dir/h.db")
    with pytest.raises(ConfigError, match="cannot create the key file"):
        vault_from_settings(settings)


@pytest.mark.parametrize(
    "url", ["postgresql://hookline@db/hookline", "postgres://u@h/d", "postgresql+asyncpg://u@h/d"]
)
def test_postgresql_without_secret_key_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="HOOKLINE_SECRET_KEY is required"):
        vault_from_settings(load_settings(database_url=url))


def test_postgresql_with_secret_key_is_accepted() -> None:
    settings = load_settings(database_url="postgresql://hookline@db/hookline", secret_key=NEW_KEY)
    vault = vault_from_settings(settings)
    assert vault.open(vault.seal(PLAINTEXT)) == PLAINTEXT
