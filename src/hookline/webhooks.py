"""The webhook: what a client may write (``Draft``), what is stored (``Webhook``), and the rules.

Validation collects every broken rule at once, each naming its field as a JSON pointer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic.alias_generators import to_camel

from hookline import filters
from hookline.catalog import Catalog, Level
from hookline.errors import InvalidInput, Problem, pointer
from hookline.text import unstorable
from hookline.urls import MAX_URL_LENGTH, url_problem

Origin = Literal["api", "automations", "management-console"]
Ordering = Literal["none", "fifo"]

MAX_NAME_LENGTH = 512
MAX_DESCRIPTION_LENGTH = 1024
SECRET_LENGTHS = range(32, 65)
MAX_HEADER_BYTES = 2048
MAX_FILTER_LENGTH = 4096
MAX_RATE_LIMIT = 10_000
# Headers hookline sets itself on every delivery; a webhook may not override them.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Content-Type",
        "Content-Length",
        "Host",
        "User-Agent",
        "Qlik-Signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Transfer-Encoding",
        "Connection",
    )
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _storable(text: str) -> str:
    if problem := unstorable(text):
        raise ValueError(problem)
    return text


Text = Annotated[str, AfterValidator(_storable)]
"""Text that any database and header can hold: valid Unicode, without NUL."""


class Draft(BaseModel):
    """The writable fields of a webhook, as a client sends them (secrets in clear).

    JSON ``null`` means absent; unknown members are ignored. Defaults are those of a
    full replace (PUT): what is omitted is cleared, and ``enabled`` omitted is false.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    name: Text = Field(
        description="1 to 512 characters.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_NAME_LENGTH},
    )
    url: Text = Field(
        description="https URL with a fully qualified domain name as host.",
        json_schema_extra={"maxLength": MAX_URL_LENGTH, "format": "uri"},
    )
    event_types: list[Text] = Field(
        default_factory=list,
        description="Event type names from /webhooks/event-types. Optional, as in Qlik: "
        "left out, the webhook has none and matches no event until it is given some. "
        "An empty list sent for a new webhook, or to empty one that has types, is refused.",
    )
    description: Text = Field(
        default="",
        description="At most 1024 characters.",
        json_schema_extra={"maxLength": MAX_DESCRIPTION_LENGTH},
    )
    secret: Text | None = Field(
        default=None,
        description="32 to 64 characters; write-only, never returned.",
        json_schema_extra={"minLength": SECRET_LENGTHS.start, "maxLength": SECRET_LENGTHS.stop - 1},
    )
    headers: dict[Text, Text] = Field(
        default_factory=dict, description="Headers sent with each delivery."
    )
    encrypted_headers: dict[Text, Text] = Field(
        default_factory=dict,
        description="Headers stored encrypted; responses list only their names.",
    )
    # Strict: JSON true or false only, as the schema says; not 0, 1, "yes" or "off".
    enabled: StrictBool = False
    filter: Text | None = Field(default=None, description='SCIM filter, e.g. id eq "a1".')
    check_certificate_revocation: StrictBool = False
    enable_cloud_event_delivery: StrictBool = False
    rate_limit: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_RATE_LIMIT,
        description="hookline's own: deliveries a second at most, across every process; "
        "the rest wait in the queue. Null or omitted: no limit.",
    )
    ordering: Ordering = Field(
        default="none",
        description='hookline\'s own: "fifo" sends the deliveries one at a time in publish '
        'order, a failing one holding those behind it; "none" (the default) sends them '
        "as they fall due, in parallel.",
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class NewWebhook(Draft):
    """A create request: a new webhook is enabled unless told otherwise."""

    enabled: StrictBool = True
    level: Level = "tenant"
    owner_id: Text | None = Field(default=None, description="The owner; default the caller.")
    origin: Origin = "api"


@dataclass(frozen=True)
class Webhook:
    """A stored webhook. Secrets are sealed (encrypted); only the vault can open them."""

    id: str
    tenant_id: str
    name: str
    description: str
    url: str
    event_types: tuple[str, ...]
    headers: dict[str, str]
    encrypted_header_names: tuple[str, ...]
    sealed_secret: str | None
    sealed_encrypted_headers: str | None
    enabled: bool
    filter: str | None
    level: Level
    owner_id: str
    origin: Origin
    check_certificate_revocation: bool
    enable_cloud_event_delivery: bool
    disabled_reason: str | None
    disabled_reason_code: str | None
    created_at: datetime
    updated_at: datetime
    created_by_user_id: str
    updated_by_user_id: str
    # A secret rotation's grace period (hookline.rotation): the secret the current one
    # replaced, sealed, and when it stops signing.
    sealed_previous_secret: str | None = None
    secret_rotating_until: datetime | None = None
    rate_limit: int | None = None
    ordering: Ordering = "none"


def validate(
    draft: Draft,
    *,
    level: Level,
    catalog: Catalog,
    dev: bool = False,
    current_event_types: Collection[str] | None = None,
) -> None:
    """Raise InvalidInput listing every rule ``draft`` breaks; ``current_event_types``: those
    of the webhook it replaces (None for a new one)."""
    problems = rule_problems(
        draft, level=level, catalog=catalog, dev=dev, current_event_types=current_event_types
    )
    if problems:
        raise InvalidInput(problems)


def rule_problems(
    draft: Draft,
    *,
    level: Level | None,
    catalog: Catalog,
    dev: bool = False,
    fields: Collection[str] | None = None,
    current_event_types: Collection[str] | None = None,
) -> list[Problem]:
    """Every rule ``draft`` breaks; with ``fields`` (attribute names), only the rules about
    those fields. ``level`` None: event types are checked against the catalog only.
    ``current_event_types``: those of the webhook ``draft`` replaces (None for a new one)."""
    checks: list[tuple[tuple[str, ...], Callable[[], list[Problem]]]] = [
        (("name",), lambda: _name_problems(draft.name)),
        (("description",), lambda: _description_problems(draft.description)),
        (("url",), lambda: _url_problems(draft.url, dev)),
        (("secret",), lambda: _secret_problems(draft.secret)),
        (("headers",), lambda: header_problems(draft.headers, "/headers")),
        (
            ("encrypted_headers",),
            lambda: header_problems(draft.encrypted_headers, "/encryptedHeaders"),
        ),
        (
            ("headers", "encrypted_headers"),
            lambda: _duplicate_header_problems(draft.headers, draft.encrypted_headers),
        ),
        (
            ("event_types",),
            lambda: event_type_problems(
                draft.event_types,
                level,
                catalog,
                emptied=_emptied(draft, current_event_types),
            ),
        ),
        (("filter",), lambda: _filter_problems(draft.filter)),
    ]
    return [
        problem
        for about, check in checks
        if fields is None or all(field in fields for field in about)
        for problem in check()
    ]


def problems_beside(
    document: object,
    broken: Collection[str],
    *,
    level: Level | None,
    catalog: Catalog,
    dev: bool = False,
    current_event_types: Collection[str] | None = None,
) -> list[Problem]:
    """For a request whose fields ``broken`` (as sent, e.g. ``eventTypes``) did not parse:
    the rules its other fields break, so that one answer lists every problem at once.
    ``current_event_types``: as for ``rule_problems``."""
    if not isinstance(document, Mapping):
        return []
    given: dict[str, Any] = {}
    for name, info in Draft.model_fields.items():
        sent = next(
            (key for key in (info.alias or name, name) if document.get(key) is not None), None
        )
        if sent is not None and sent not in broken and name not in broken:
            given[name] = document[sent]
    # Values Pydantic found nothing wrong with: they have their fields' types already.
    draft = Draft.model_construct(**given)
    return rule_problems(
        draft,
        level=level,
        catalog=catalog,
        dev=dev,
        fields=given.keys(),
        current_event_types=current_event_types,
    )


def _name_problems(name: str) -> list[Problem]:
    if not name.strip():
        return [Problem("/name", "is required and must not be blank")]
    if len(name) > MAX_NAME_LENGTH:
        return [Problem("/name", f"must be at most {MAX_NAME_LENGTH} characters")]
    return []


def _description_problems(description: str) -> list[Problem]:
    if len(description) > MAX_DESCRIPTION_LENGTH:
        return [Problem("/description", f"must be at most {MAX_DESCRIPTION_LENGTH} characters")]
    return []


def _url_problems(url: str, dev: bool) -> list[Problem]:
    problem = url_problem(url, dev=dev)
    return [Problem("/url", problem)] if problem else []


def _secret_problems(secret: str | None) -> list[Problem]:
    if secret is not None and len(secret) not in SECRET_LENGTHS:
        return [Problem("/secret", "must be 32 to 64 characters long")]
    return []


def header_problems(headers: Mapping[str, str], field: str) -> list[Problem]:
    """The rules for one header map: tokens, no CR/LF, not reserved, unique, <= 2048 bytes."""
    problems = []
    seen: set[str] = set()
    for name, value in headers.items():
        where = field + pointer((name,))
        if not _TOKEN.fullmatch(name):
            problems.append(Problem(where, "header name must be an HTTP token"))
        elif name.lower() in RESERVED_HEADERS:
            problems.append(Problem(where, f"{name} is set by hookline and cannot be overridden"))
        elif name.lower() in seen:
            problems.append(Problem(where, "header names must be unique (case-insensitive)"))
        if _FORBIDDEN_IN_VALUE.search(value):
            problems.append(Problem(where, "header value must not contain CR, LF or controls"))
        seen.add(name.lower())
    if headers_size(headers) > MAX_HEADER_BYTES:
        problems.append(Problem(field, f"headers must total at most {MAX_HEADER_BYTES} bytes"))
    return problems


def headers_size(headers: Mapping[str, str]) -> int:
    """Bytes of names plus values, UTF-8 encoded: the measure the 2048-byte limit applies to."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in headers.items())


def _duplicate_header_problems(
    headers: Mapping[str, str], encrypted: Mapping[str, str]
) -> list[Problem]:
    plain = {name.lower() for name in headers}
    return [
        Problem(pointer(("encryptedHeaders", name)), "is also given in headers")
        for name in encrypted
        if name.lower() in plain
    ]


def _emptied(draft: Draft, current: Collection[str] | None) -> bool:
    """An empty ``eventTypes`` sent (not left out) for a new webhook, or for one that has
    types: taken for a form with nothing ticked, so the console still asks for one. Left
    out, or sent back empty for a webhook that has none (a GET then PUT), it is accepted."""
    sent = "event_types" in draft.model_fields_set
    return sent and not draft.event_types and (current is None or bool(current))


def event_type_problems(
    event_types: list[str], level: Level | None, catalog: Catalog, *, emptied: bool = False
) -> list[Problem]:
    if emptied:
        return [Problem("/eventTypes", "must name at least one event type")]
    problems = []
    for index, name in enumerate(event_types):
        event_type = catalog.get(name)
        if event_type is None:
            problems.append(Problem(f"/eventTypes/{index}", f"unknown event type {name!r}"))
        elif level is not None and level not in event_type.levels:
            problems.append(
                Problem(
                    f"/eventTypes/{index}", f"{name} is not available to {level}-level webhooks"
                )
            )
    return problems


def _filter_problems(expression: str | None) -> list[Problem]:
    if expression is None or not expression.strip():
        return []
    if len(expression) > MAX_FILTER_LENGTH:
        return [Problem("/filter", f"must be at most {MAX_FILTER_LENGTH} characters")]
    try:
        filters.parse(expression)
    except InvalidInput as error:
        return error.problems
    return []
