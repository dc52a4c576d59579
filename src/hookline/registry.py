"""The webhook registry: who may do what to which webhook, with every rule of SPEC 2 applied.

The API and the console call this; it speaks domain errors and leaves HTTP to the API.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic

from hookline import patch, rotation, webhooks
from hookline.auth import Principal, Role
from hookline.catalog import Catalog
from hookline.clock import now
from hookline.errors import (
    InvalidInput,
    NotAllowed,
    NotFound,
    Problem,
    ReadOnlyField,
    plain_message,
    pointer,
)
from hookline.paging import Page
from hookline.rotation import Rotation
from hookline.settings import Settings
from hookline.store import Caps, Store, WebhookQuery
from hookline.vault import Vault
from hookline.webhooks import Draft, NewWebhook, Webhook

# Fields a client may read but never change once the webhook exists (a PUT may repeat
# their current values, as a GET-then-PUT client does).
READ_ONLY_FIELDS = (
    "id",
    "createdAt",
    "updatedAt",
    "createdByUserId",
    "updatedByUserId",
    "origin",
    "level",
    "ownerId",
    "disabledReason",
    "disabledReasonCode",
    "secretKeyAdded",
    "secretRotatingUntil",
)
_MAPS = frozenset({"headers", "encryptedHeaders"})
_WRITABLE = frozenset(field.alias or name for name, field in Draft.model_fields.items())


@dataclass(frozen=True)
class Registry:
    store: Store
    vault: Vault
    catalog: Catalog
    settings: Settings

    async def create(self, caller: Principal, request: NewWebhook) -> Webhook:
        tenant_id, user_id = _manager(caller)
        owner_id = request.owner_id or user_id
        if request.level == "tenant" and caller.role is not Role.TENANT_ADMIN:
            raise NotAllowed("only a TenantAdmin can create tenant-level webhooks")
        if owner_id != user_id:
            if caller.role is not Role.TENANT_ADMIN:
                raise NotAllowed("a user can create webhooks only for itself")
            if not await self.store.user_exists(tenant_id, owner_id):
                raise InvalidInput.one("/ownerId", f"no user {owner_id!r} in this tenant")
        webhooks.validate(request, level=request.level, catalog=self.catalog, dev=self.settings.dev)
        created = now()
        webhook = Webhook(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            level=request.level,
            owner_id=owner_id,
            origin=request.origin,
            created_at=created,
            created_by_user_id=user_id,
            updated_at=created,
            updated_by_user_id=user_id,
            disabled_reason=None,
            disabled_reason_code=None,
            **self._draft_fields(request),
        )
        caps = Caps(self.settings.max_webhooks_per_tenant, self.settings.max_webhooks_per_user)
        await self.store.insert_webhook(webhook, caps)
        return webhook

    async def get(self, caller: Principal, webhook_id: str) -> Webhook:
        tenant_id, user_id = _manager(caller)
        webhook = await self.store.get_webhook(tenant_id, webhook_id)
        if webhook is None or not _visible(caller, user_id, webhook):
            raise NotFound(f"no webhook {webhook_id}")
        return webhook

    async def list_webhooks(self, caller: Principal, query: WebhookQuery) -> Page[Webhook]:
        tenant_id, user_id = _manager(caller)
        only_owned_by = user_id if caller.role is Role.USER else None
        return await self.store.list_webhooks(
            dataclasses.replace(query, tenant_id=tenant_id, only_owned_by=only_owned_by)
        )

    async def replace(
        self, caller: Principal, webhook_id: str, draft: Draft, given: Mapping[str, Any]
    ) -> Webhook:
        """PUT: ``draft`` replaces every writable field; ``given`` holds read-only fields sent."""
        current = await self.get(caller, webhook_id)
        _check_read_only(current, given)
        return await self._save(caller, current, draft)

    async def patch(
        self, caller: Principal, webhook_id: str, operations: list[patch.Operation]
    ) -> Webhook:
        current = await self.get(caller, webhook_id)
        document = self._document(current)
        patched = patch.apply(
            document,
            operations,
            writable=_WRITABLE,
            maps=_MAPS,
            read_only=frozenset(READ_ONLY_FIELDS),
        )
        if patched["url"] != current.url:
            _check_encrypted_headers_reentered(current, operations)
        return await self._save(caller, current, self._draft(patched, current))

    async def rotate_secret(
        self, caller: Principal, webhook_id: str, request: Rotation
    ) -> tuple[Webhook, str | None]:
        """Give the webhook a new secret, the one it had signing too for the grace period
        (``hookline.rotation``); answer the webhook and the secret if hookline generated it.
        Rotating to the secret already in force changes nothing, so a retried request
        cannot push the previous secret out."""
        current = await self.get(caller, webhook_id)
        secret = request.secret or rotation.generate_secret()
        generated = None if request.secret else secret
        if request.secret and self._in_force(current) == request.secret:
            return current, None
        _, user_id = _manager(caller)
        at = now()
        held = rotation.rotate(
            rotation.held_by(current), self.vault.seal(secret), request.grace, at
        )
        updated = dataclasses.replace(
            current,
            sealed_secret=held.current,
            sealed_previous_secret=held.previous,
            secret_rotating_until=held.until,
            updated_at=at,
            updated_by_user_id=user_id,
        )
        if not await self.store.update_webhook(updated):
            raise NotFound(f"no webhook {current.id}")
        return updated, generated

    def _in_force(self, webhook: Webhook) -> str | None:
        """The webhook's secret in force, opened."""
        return self.vault.open(webhook.sealed_secret) if webhook.sealed_secret else None

    async def delete(self, caller: Principal, webhook_id: str) -> None:
        webhook = await self.get(caller, webhook_id)
        await self.store.delete_webhook(webhook.tenant_id, webhook.id)

    async def _save(self, caller: Principal, current: Webhook, draft: Draft) -> Webhook:
        if current.enable_cloud_event_delivery and not draft.enable_cloud_event_delivery:
            raise NotAllowed("enableCloudEventDelivery cannot be turned off once it is on")
        webhooks.validate(
            draft,
            level=current.level,
            catalog=self.catalog,
            dev=self.settings.dev,
            current_event_types=current.event_types,
        )
        _, user_id = _manager(caller)
        keep_reason = not draft.enabled and not current.enabled
        at = now()
        fields = self._draft_fields(draft)
        held = rotation.after_write(
            rotation.held_by(current),
            fields["sealed_secret"],
            kept=self._keeps_secret(current, draft, at),
            at=at,
        )
        updated = dataclasses.replace(
            current,
            **fields,
            sealed_previous_secret=held.previous,
            secret_rotating_until=held.until,
            disabled_reason=current.disabled_reason if keep_reason else None,
            disabled_reason_code=current.disabled_reason_code if keep_reason else None,
            updated_at=at,
            updated_by_user_id=user_id,
        )
        if not await self.store.update_webhook(updated):
            raise NotFound(f"no webhook {current.id}")
        return updated

    def _keeps_secret(self, current: Webhook, draft: Draft, at: datetime) -> bool:
        """Whether ``draft`` leaves a rotating webhook's secret in force as it is (then the
        rotation goes on). The secret is opened only for a webhook that is rotating."""
        rotating = rotation.held_by(current).rotating(at)
        return rotating and draft.secret is not None and draft.secret == self._in_force(current)

    def _draft_fields(self, draft: Draft) -> dict[str, Any]:
        """The stored form of what a client writes: event types deduplicated and sorted (the
        order the store reads them back in, so every answer shows the same), secrets sealed."""
        encrypted = draft.encrypted_headers
        return {
            "name": draft.name,
            "description": draft.description,
            "url": draft.url,
            "event_types": tuple(sorted(set(draft.event_types))),
            "headers": dict(draft.headers),
            "encrypted_header_names": tuple(encrypted),
            "sealed_secret": self.vault.seal(draft.secret) if draft.secret else None,
            "sealed_encrypted_headers": self.vault.seal(json.dumps(encrypted))
            if encrypted
            else None,
            "enabled": draft.enabled,
            "filter": draft.filter if draft.filter and draft.filter.strip() else None,
            "check_certificate_revocation": draft.check_certificate_revocation,
            "enable_cloud_event_delivery": draft.enable_cloud_event_delivery,
            "rate_limit": draft.rate_limit,
            "ordering": draft.ordering,
        }

    def _draft(self, document: dict[str, Any], current: Webhook) -> Draft:
        """A patched document as a draft; when some fields do not parse, every problem of
        the document at once: theirs and the rules the other fields break."""
        try:
            return Draft.model_validate(document)
        except pydantic.ValidationError as error:
            broken = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
            more = webhooks.problems_beside(
                document,
                broken,
                level=current.level,
                catalog=self.catalog,
                dev=self.settings.dev,
                current_event_types=current.event_types,
            )
            raise InvalidInput([*_plain_problems(error), *more]) from None

    def _document(self, webhook: Webhook) -> dict[str, Any]:
        """The webhook's writable fields as a client would send them, secrets opened."""
        sealed = webhook.sealed_encrypted_headers
        return {
            "name": webhook.name,
            "description": webhook.description,
            "url": webhook.url,
            "eventTypes": list(webhook.event_types),
            "headers": dict(webhook.headers),
            "encryptedHeaders": json.loads(self.vault.open(sealed)) if sealed else {},
            "enabled": webhook.enabled,
            "secret": self.vault.open(webhook.sealed_secret) if webhook.sealed_secret else None,
            "filter": webhook.filter,
            "checkCertificateRevocation": webhook.check_certificate_revocation,
            "enableCloudEventDelivery": webhook.enable_cloud_event_delivery,
            "rateLimit": webhook.rate_limit,
            "ordering": webhook.ordering,
        }


def _manager(caller: Principal) -> tuple[str, str]:
    """The caller's tenant and user, if its role may manage webhooks."""
    if caller.role not in (Role.TENANT_ADMIN, Role.USER):
        raise NotAllowed(f"a {caller.role} key cannot manage webhooks")
    assert caller.tenant_id is not None
    assert caller.user_id is not None
    return caller.tenant_id, caller.user_id


def _visible(caller: Principal, user_id: str, webhook: Webhook) -> bool:
    if caller.role is Role.TENANT_ADMIN:
        return True
    return webhook.level == "user" and webhook.owner_id == user_id


def read_only_values(webhook: Webhook) -> dict[str, Any]:
    """The read-only fields of ``webhook`` as the API shows them."""
    return {
        "id": webhook.id,
        "createdAt": webhook.created_at,
        "updatedAt": webhook.updated_at,
        "createdByUserId": webhook.created_by_user_id,
        "updatedByUserId": webhook.updated_by_user_id,
        "origin": webhook.origin,
        "level": webhook.level,
        "ownerId": webhook.owner_id,
        "disabledReason": webhook.disabled_reason,
        "disabledReasonCode": webhook.disabled_reason_code,
        "secretKeyAdded": webhook.sealed_secret is not None,
        "secretRotatingUntil": rotation.held_by(webhook).rotating_until(now()),
    }


def _check_read_only(current: Webhook, given: Mapping[str, Any]) -> None:
    shown = read_only_values(current)
    for field, value in given.items():
        if value is not None and value != shown[field]:
            raise ReadOnlyField(field)


def _check_encrypted_headers_reentered(
    current: Webhook, operations: Iterable[patch.Operation]
) -> None:
    touched = {
        tuple(part.lower() for part in patch.parse_pointer(operation.path))
        for operation in operations
    }
    if ("encryptedheaders",) in touched:
        return
    missing = [
        name
        for name in current.encrypted_header_names
        if ("encryptedheaders", name.lower()) not in touched
    ]
    if missing:
        raise InvalidInput.one(
            "/encryptedHeaders",
            f"must be re-entered or removed when the url changes: {', '.join(missing)}",
        )


def _plain_problems(error: pydantic.ValidationError) -> list[Problem]:
    return [Problem(pointer(e["loc"]) or "/", plain_message(e)) for e in error.errors()]
