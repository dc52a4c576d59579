"""The API's wire models (Qlik's camelCase names) and their conversion from domain objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from hookline.accounts import MAX_TENANT_NAME_LENGTH
from hookline.catalog import EventType, Level
from hookline.clock import now
from hookline.deliveries import Delivery, Trigger
from hookline.rotation import held_by
from hookline.store import Tenant
from hookline.webhooks import Draft, Ordering, Origin, Text, Webhook


def _iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso_millis, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class WebhookOut(WireModel):
    id: str
    name: str
    description: str
    url: str
    event_types: list[str]
    headers: dict[str, str]
    encrypted_headers: list[str] = Field(description="Names only; values are never returned.")
    enabled: bool
    filter: str | None
    level: Level
    owner_id: str
    origin: Origin
    check_certificate_revocation: bool
    enable_cloud_event_delivery: bool
    rate_limit: int | None = Field(
        description="hookline's own: deliveries a second at most; null: no limit."
    )
    ordering: Ordering = Field(
        description='hookline\'s own: "fifo" (one at a time, in publish order) or "none".'
    )
    secret_key_added: bool
    secret_rotating_until: Timestamp | None = Field(
        description="hookline's own: while a secret rotation's grace period runs, when the "
        "previous secret stops signing deliveries; null otherwise."
    )
    disabled_reason: str | None
    disabled_reason_code: str | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by_user_id: str
    updated_by_user_id: str

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            id=webhook.id,
            name=webhook.name,
            description=webhook.description,
            url=webhook.url,
            event_types=list(webhook.event_types),
            headers=webhook.headers,
            encrypted_headers=list(webhook.encrypted_header_names),
            enabled=webhook.enabled,
            filter=webhook.filter,
            level=webhook.level,
            owner_id=webhook.owner_id,
            origin=webhook.origin,
            check_certificate_revocation=webhook.check_certificate_revocation,
            enable_cloud_event_delivery=webhook.enable_cloud_event_delivery,
            rate_limit=webhook.rate_limit,
            ordering=webhook.ordering,
            secret_key_added=webhook.sealed_secret is not None,
            secret_rotating_until=held_by(webhook).rotating_until(now()),
            disabled_reason=webhook.disabled_reason,
            disabled_reason_code=webhook.disabled_reason_code,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
            created_by_user_id=webhook.created_by_user_id,
            updated_by_user_id=webhook.updated_by_user_id,
        )


class WebhookReplace(Draft):
    """A PUT body: every writable field (omitted ones are cleared; ``enabled`` omitted is
    false). Read-only fields may be sent back with their current values; a different value
    is a 409."""

    id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by_user_id: str | None = None
    updated_by_user_id: str | None = None
    origin: Origin | None = None
    level: Level | None = None
    owner_id: str | None = None
    disabled_reason: str | None = None
    disabled_reason_code: str | None = None
    secret_key_added: bool | None = None
    secret_rotating_until: datetime | None = None

    def read_only_given(self) -> dict[str, Any]:
        return {
            type(self).model_fields[name].alias or name: getattr(self, name)
            for name in self.model_fields_set
            if name not in Draft.model_fields
        }


class RotatedOut(WebhookOut):
    """The webhook after a secret rotation, with the secret hookline generated."""

    secret: str | None = Field(
        description="The secret hookline generated, when the request gave none: shown in "
        "this answer only, never again. null when the request gave the secret."
    )

    @classmethod
    def rotated(cls, webhook: Webhook, generated: str | None) -> RotatedOut:
        shown = WebhookOut.of(webhook)
        return cls(
            **{name: getattr(shown, name) for name in WebhookOut.model_fields}, secret=generated
        )


class Href(BaseModel):
    href: str


class Links(BaseModel):
    self: Href
    next: Href | None = None
    prev: Href | None = None


class WebhookList(BaseModel):
    data: list[WebhookOut]
    links: Links


class EventTypeOut(BaseModel):
    name: str
    title: str = Field(description="In the language of Accept-Language (English or Japanese).")
    description: str
    levels: list[Level]
    category: str = Field(description="The resource the event concerns: app or user.")
    titles: dict[str, str] = Field(description="The title in every language, by language code.")
    example: dict[str, Any] = Field(
        description="hookline's own: an example of the event's data, which a test send "
        "(POST /api/v1/webhooks/{id}/actions/test) delivers."
    )

    @classmethod
    def of(cls, event_type: EventType, language: str) -> EventTypeOut:
        return cls(
            name=event_type.name,
            title=event_type.title_in(language),
            description=event_type.description_in(language),
            levels=list(event_type.levels),
            category=event_type.category,
            titles=event_type.title,
            example=event_type.example,
        )


class EventTypeList(BaseModel):
    data: list[EventTypeOut]


class TenantIn(BaseModel):
    name: Text = Field(
        description=f"1 to {MAX_TENANT_NAME_LENGTH} characters, not all of them spaces "
        "(leading and trailing spaces are dropped).",
        json_schema_extra={"minLength": 1, "maxLength": MAX_TENANT_NAME_LENGTH, "pattern": r"\S"},
    )


class TenantOut(WireModel):
    id: str
    name: str
    created_at: Timestamp

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(id=tenant.id, name=tenant.name, created_at=tenant.created_at)


class TenantList(BaseModel):
    data: list[TenantOut]


class ApiKeyIn(WireModel):
    role: str = Field(
        description="tenant-admin, user or publisher.",
        json_schema_extra={"enum": ["tenant-admin", "user", "publisher"]},
    )
    user_id: Text | None = Field(default=None, description="Created if new; generated if omitted.")


class ApiKeyOut(WireModel):
    id: str
    key: str = Field(description="Shown once; only its digest is stored.")
    role: str
    tenant_id: str | None
    user_id: str | None


class PublishedEvent(BaseModel):
    id: str


class Published(BaseModel):
    data: list[PublishedEvent] = Field(description="The ids of the accepted events, in order.")


class AttemptOut(WireModel):
    number: int
    started_at: Timestamp
    duration_ms: float
    status_code: int | None
    error: str | None


class DeliveryRequestOut(WireModel):
    url: str | None
    headers: dict[str, str] = Field(description="Encrypted header values show **OMITTED**.")
    body: Any = Field(description="The JSON body sent (the event envelope).")


class DeliveryResponseOut(WireModel):
    status_code: int | None
    headers: dict[str, str]
    body: str


class DeliveryOut(WireModel):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    triggered_at: Timestamp
    status: Literal["pending", "success", "fail"]
    status_message: str
    request: DeliveryRequestOut
    response: DeliveryResponseOut | None
    attempts: list[AttemptOut]
    next_attempt_at: Timestamp | None
    trigger: Trigger = Field(
        description="hookline's own: what made the delivery: event (an event published), "
        "resend (actions/resend) or test (actions/test: an example event, attempted once)."
    )
    task_id: str | None = Field(
        description="hookline's own: the recover task that made this delivery; null for "
        "the deliveries of an event's fan-out and for resends."
    )

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        attempted = delivery.attempt_count > 0
        return cls(
            id=delivery.id,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            triggered_at=delivery.triggered_at,
            status=delivery.status,
            status_message=delivery.status_message,
            request=DeliveryRequestOut(
                url=delivery.request_url,
                headers=delivery.request_headers or {},
                body=orjson.loads(delivery.body),
            ),
            response=(
                DeliveryResponseOut(
                    status_code=delivery.response_status,
                    headers=delivery.response_headers or {},
                    body=delivery.response_body or "",
                )
                if attempted
                else None
            ),
            attempts=[
                AttemptOut(
                    number=a.number,
                    started_at=a.started_at,
                    duration_ms=a.duration_ms,
                    status_code=a.status_code,
                    error=a.error,
                )
                for a in delivery.attempts
            ],
            next_attempt_at=delivery.next_attempt_at,
            trigger=delivery.trigger,
            task_id=delivery.task_id,
        )


class SendTestIn(WireModel):
    """A test send's request. JSON ``null`` means absent; unknown members are ignored."""

    event_type: Text | None = Field(
        default=None,
        description="One of the webhook's event types; left out, the first of them.",
    )


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    links: Links


class Me(WireModel):
    id: str | None = Field(description="The user the key acts as.")
    tenant_id: str | None
    role: Literal["operator", "tenant-admin", "user", "publisher"]
