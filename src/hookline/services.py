"""Everything a hookline process needs, built once from the settings and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.catalog import Catalog, load_catalog
from hookline.registry import Registry
from hookline.settings import Settings
from hookline.store import Store, open_store
from hookline.vault import Vault, vault_from_settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    vault: Vault
    catalog: Catalog
    registry: Registry

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Raises ConfigError for a bad setting; opens no connection yet."""
        vault = vault_from_settings(settings)
        catalog = load_catalog(settings.catalog_file)
        store = open_store(settings)
        return cls(settings, store, vault, catalog, Registry(store, vault, catalog, settings))
