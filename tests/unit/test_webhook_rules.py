"""Tests for hookline.webhooks: the Draft/NewWebhook models and the validation rules (SPEC 2)."""

from __future__ import annotations

from typing import Any

import h11
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookline.catalog import Catalog, Level, load_catalog
from hookline.errors import InvalidInput, Problem
from hookline.webhooks import (
    MAX_HEADER_BYTES,
    RESERVED_HEADERS,
    Draft,
    NewWebhook,
    event_type_problems,
    header_problems,
    headers_size,
    validate,
)

CATALOG = load_catalog()
APP_CREATED = "com.qlik.v1.app.created"
TENANT_ONLY_TYPES = (
    "com.qlik.v1.app.deleted",
    "com.qlik.v1.user.created",
    "com.qlik.v1.user.deleted",
)
USER_LEVEL_TYPES = (
    "com.qlik.v1.app.created",
    "com.qlik.v1.app.data.updated",
    "com.qlik.v1.app.reload.finished",
    "com.qlik.v1.app.published",
    "com.qlik.v1.app.exported",
)
RESERVED_NAMES = (
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
TOKEN_CHARACTERS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def make_draft(**fields: Any) -> Draft:
    """A valid draft (JSON member names), with ``fields`` replacing or adding members."""
    body: dict[str, Any] = {
        "name": "Orders",
        "url": "https://hooks.example.com/qlik",
        "eventTypes": [APP_CREATED],
    }
    body.update(fields)
    return Draft.model_validate(body)


def problems_of(
    draft: Draft, *, level: Level = "tenant", catalog: Catalog = CATALOG, dev: bool = False
) -> list[Problem]:
    try:
        validate(draft, level=level, catalog=catalog, dev=dev)
    except InvalidInput as error:
        return error.problems
    return []


def fields_of(problems: list[Problem]) -> list[str]:
    return [problem.field for problem in problems]


def sized_headers(total: int, name: str = "X-Pad") -> dict[str, str]:
    """One header whose name plus value is ``total`` bytes."""
    return {name: "v" * (total - len(name.encode()))}


# -- the models ----------------------------------------------------------------------------


def test_valid_minimal_draft_has_no_problems() -> None:
    assert problems_of(make_draft()) == []


def test_valid_complete_draft_has_no_problems() -> None:
    draft = make_draft(
        description="Sends order events",
        secret="s" * 40,
        headers={"X-Team": "orders"},
        encryptedHeaders={"Authorization": "Bearer abc"},
        enabled=True,
        filter='id eq "a1" or spaceId eq "s9"',
        checkCertificateRevocation=True,
        enableCloudEventDelivery=True,
    )
    assert problems_of(draft) == []


def test_draft_reads_camel_case_members() -> None:
    draft = make_draft(
        encryptedHeaders={"X-Key": "k"},
        checkCertificateRevocation=True,
        enableCloudEventDelivery=True,
    )
    assert draft.event_types == [APP_CREATED]
    assert draft.encrypted_headers == {"X-Key": "k"}
    assert draft.check_certificate_revocation is True
    assert draft.enable_cloud_event_delivery is True


def test_draft_also_accepts_python_field_names() -> None:
    draft = Draft(name="n", url="https://hooks.example.com/", event_types=[APP_CREATED])
    assert draft.event_types == [APP_CREATED]


def test_draft_omitted_fields_take_full_replace_defaults() -> None:
    draft = make_draft()
    assert draft.description == ""
    assert draft.secret is None
    assert draft.headers == {}
    assert draft.encrypted_headers == {}
    assert draft.enabled is False
    assert draft.filter is None
    assert draft.check_certificate_revocation is False
    assert draft.enable_cloud_event_delivery is False


def test_draft_treats_json_null_as_absent() -> None:
    nulls = {
        "description": None,
        "secret": None,
        "headers": None,
        "encryptedHeaders": None,
        "enabled": None,
        "filter": None,
        "checkCertificateRevocation": None,
        "enableCloudEventDelivery": None,
    }
    assert make_draft(**nulls) == make_draft()


def test_draft_ignores_unknown_and_read_only_members() -> None:
    draft = make_draft(
        id="9b4a6c2e-0000-0000-0000-000000000000",
        createdAt="2024-01-01T00:00:00Z",
        secretKeyAdded=True,
        somethingNew={"nested": [1, 2]},
    )
    assert draft == make_draft()


@pytest.mark.parametrize("missing", ["name", "url"])
def test_draft_without_required_member_is_refused(missing: str) -> None:
    body: dict[str, Any] = {"name": "n", "url": "https://hooks.example.com/", "eventTypes": []}
    del body[missing]
    with pytest.raises(pydantic.ValidationError):
        Draft.model_validate(body)


def test_draft_without_event_types_has_none_and_breaks_no_rule() -> None:
    """Optional, as in Qlik's types; only an empty list *sent* for a new webhook is refused."""
    draft = Draft.model_validate({"name": "n", "url": "https://hooks.example.com/"})
    assert draft.event_types == []
    assert problems_of(draft) == []


def test_draft_with_required_member_null_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        Draft.model_validate({"name": None, "url": "https://a.example/", "eventTypes": []})


def test_draft_is_immutable() -> None:
    draft = make_draft()
    with pytest.raises(pydantic.ValidationError):
        draft.name = "other"  # type: ignore[misc]


def test_new_webhook_is_enabled_tenant_level_api_origin_by_default() -> None:
    webhook = NewWebhook.model_validate(
        {"name": "n", "url": "https://hooks.example.com/", "eventTypes": [APP_CREATED]}
    )
    assert webhook.enabled is True
    assert webhook.level == "tenant"
    assert webhook.origin == "api"
    assert webhook.owner_id is None


def test_new_webhook_treats_null_as_absent_for_its_defaults() -> None:
    webhook = NewWebhook.model_validate(
        {
            "name": "n",
            "url": "https://hooks.example.com/",
            "eventTypes": [APP_CREATED],
            "enabled": None,
            "level": None,
            "ownerId": None,
            "origin": None,
        }
    )
    assert (webhook.enabled, webhook.level, webhook.origin) == (True, "tenant", "api")


def test_new_webhook_reads_level_owner_and_origin() -> None:
    webhook = NewWebhook.model_validate(
        {
            "name": "n",
            "url": "https://hooks.example.com/",
            "eventTypes": [APP_CREATED],
            "enabled": False,
            "level": "user",
            "ownerId": "user-1",
            "origin": "management-console",
        }
    )
    assert (webhook.enabled, webhook.level, webhook.owner_id, webhook.origin) == (
        False,
        "user",
        "user-1",
        "management-console",
    )


@pytest.mark.parametrize(("member", "value"), [("level", "space"), ("origin", "elsewhere")])
def test_new_webhook_with_unknown_level_or_origin_is_refused(member: str, value: str) -> None:
    body = {"name": "n", "url": "https://hooks.example.com/", "eventTypes": [], member: value}
    with pytest.raises(pydantic.ValidationError):
        NewWebhook.model_validate(body)


# -- name, description, url ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_blank_name_is_refused(name: str) -> None:
    assert problems_of(make_draft(name=name)) == [
        Problem("/name", "is required and must not be blank")
    ]


@pytest.mark.parametrize("length", [1, 512])
def test_name_of_1_to_512_characters_is_accepted(length: int) -> None:
    assert problems_of(make_draft(name="n" * length)) == []


def test_name_of_513_characters_is_refused() -> None:
    assert problems_of(make_draft(name="n" * 513)) == [
        Problem("/name", "must be at most 512 characters")
    ]


def test_name_length_counts_characters_not_bytes() -> None:
    assert problems_of(make_draft(name="名" * 512)) == []


@pytest.mark.parametrize("length", [0, 1024])
def test_description_up_to_1024_characters_is_accepted(length: int) -> None:
    assert problems_of(make_draft(description="d" * length)) == []


def test_description_of_1025_characters_is_refused() -> None:
    assert problems_of(make_draft(description="d" * 1025)) == [
        Problem("/description", "must be at most 1024 characters")
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://user:pw@hooks.example.com/",
        "https://hooks.example.com/#x",
        "https://localhost/",
    ],
)
def test_url_problem_is_reported_on_url_field(url: str) -> None:
    problems = problems_of(make_draft(url=url))
    assert fields_of(problems) == ["/url"]


def test_dev_mode_permits_http_localhost_url() -> None:
    draft = make_draft(url="http://localhost:9000/hook")
    assert fields_of(problems_of(draft)) == ["/url"]
    assert problems_of(draft, dev=True) == []


# -- secret --------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "accepted"), [(31, False), (32, True), (64, True), (65, False)])
def test_secret_must_be_32_to_64_characters(length: int, accepted: bool) -> None:
    problems = problems_of(make_draft(secret="s" * length))
    if accepted:
        assert problems == []
    else:
        assert problems == [Problem("/secret", "must be 32 to 64 characters long")]


def test_empty_secret_is_refused() -> None:
    assert fields_of(problems_of(make_draft(secret=""))) == ["/secret"]


def test_secret_length_counts_characters_not_bytes() -> None:
    assert problems_of(make_draft(secret="é" * 32)) == []


# -- headers: size -------------------------------------------------------------------------


def test_headers_size_counts_utf8_bytes_of_names_and_values() -> None:
    assert headers_size({}) == 0
    assert headers_size({"X-A": "abc"}) == 6
    assert headers_size({"X-A": "é"}) == 5
    assert headers_size({"X-A": "名", "X-Bb": ""}) == 10


@pytest.mark.parametrize("field", ["headers", "encryptedHeaders"])
def test_headers_of_exactly_2048_bytes_are_accepted(field: str) -> None:
    headers = sized_headers(MAX_HEADER_BYTES)
    assert headers_size(headers) == 2048
    assert problems_of(make_draft(**{field: headers})) == []


@pytest.mark.parametrize("field", ["headers", "encryptedHeaders"])
def test_headers_of_2049_bytes_are_refused(field: str) -> None:
    headers = sized_headers(MAX_HEADER_BYTES + 1)
    assert problems_of(make_draft(**{field: headers})) == [
        Problem(f"/{field}", "headers must total at most 2048 bytes")
    ]


def test_header_size_limit_counts_multibyte_characters_as_bytes() -> None:
    # 3 + 2 * 1022 + 1 = 2048 bytes, but only 1026 characters.
    accepted = {"X-A": "é" * 1022 + "a"}
    refused = {"X-A": "é" * 1023}
    assert headers_size(accepted) == 2048
    assert headers_size(refused) == 2049
    assert problems_of(make_draft(headers=accepted)) == []
    assert fields_of(problems_of(make_draft(headers=refused))) == ["/headers"]


def test_header_size_limit_counts_names_and_sums_every_header() -> None:
    headers = {"X-One": "a" * 1000, "X-Two": "b" * 1038}
    assert headers_size(headers) == 2048
    assert problems_of(make_draft(headers=headers)) == []
    headers["X-3"] = ""
    assert fields_of(problems_of(make_draft(headers=headers))) == ["/headers"]


def test_header_size_limit_counts_multibyte_names() -> None:
    # Names must be tokens, so a multibyte name is refused anyway, but it still counts.
    assert headers_size({"Ä": "v" * 2047}) == 2049


# -- headers: names and values -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "X-Foo",
        "x_foo",
        "X-Foo-123",
        "Authorization",
        "X~Tilde",
        TOKEN_CHARACTERS,
    ],
)
def test_header_name_that_is_an_http_token_is_accepted(name: str) -> None:
    assert header_problems({name: "v"}, "/headers") == []


@pytest.mark.parametrize(
    "name",
    [
        "",
        "X Foo",
        "X:Foo",
        "X-Foo:",
        "X-Ä",
        "(X)",
        "X@Foo",
        'X"Foo',
        "X,Foo",
        "X;Foo",
        "X=Foo",
        "X?Foo",
        "[X]",
        "{X}",
        "X\tFoo",
        "X\nFoo",
        "X-Foo\n",
        "X-Foo\r\n",
        "X\x7fFoo",
    ],
)
def test_header_name_that_is_not_an_http_token_is_refused(name: str) -> None:
    problems = problems_of(make_draft(headers={name: "v"}))
    assert [problem.message for problem in problems] == ["header name must be an HTTP token"]


def test_reserved_name_followed_by_newline_is_refused() -> None:
    problems = header_problems({"Content-Type\n": "text/plain"}, "/headers")
    assert [problem.message for problem in problems] == ["header name must be an HTTP token"]


@pytest.mark.parametrize(
    "value",
    [
        "a\rb",
        "a\nb",
        "a\r\nX-Injected: 1",
        "\n",
        "trailing\r\n",
        "a\x1bb",
        "a\x7fb",
    ],
)
@pytest.mark.parametrize("field", ["headers", "encryptedHeaders"])
def test_header_value_with_cr_lf_or_control_is_refused(field: str, value: str) -> None:
    problems = problems_of(make_draft(**{field: {"X-Foo": value}}))
    assert problems == [
        Problem(f"/{field}/X-Foo", "header value must not contain CR, LF or controls")
    ]


@pytest.mark.parametrize("value", ["", "a\tb", "Bearer abc.def", "ünïcödé", " spaced "])
def test_header_value_without_cr_lf_is_accepted(value: str) -> None:
    assert problems_of(make_draft(headers={"X-Foo": value})) == []


def reserved_name_spellings() -> list[str]:
    spellings: list[str] = []
    for name in RESERVED_NAMES:
        spellings.extend(dict.fromkeys([name, name.lower(), name.upper(), name.title()]))
    return spellings


def test_reserved_header_set_is_the_documented_one() -> None:
    assert frozenset(name.lower() for name in RESERVED_NAMES) == RESERVED_HEADERS


@pytest.mark.parametrize("name", reserved_name_spellings())
@pytest.mark.parametrize("field", ["headers", "encryptedHeaders"])
def test_reserved_header_name_is_refused_in_any_case(field: str, name: str) -> None:
    problems = problems_of(make_draft(**{field: {name: "value"}}))
    assert problems == [
        Problem(f"/{field}/{name}", f"{name} is set by hookline and cannot be overridden")
    ]


@pytest.mark.parametrize(
    "name", ["content-type", "QLIK-SIGNATURE", "Webhook-Id", "USER-AGENT", "host"]
)
def test_reserved_header_name_named_in_the_issue_is_refused(name: str) -> None:
    assert fields_of(problems_of(make_draft(headers={name: "v"}))) == [f"/headers/{name}"]


@pytest.mark.parametrize("field", ["headers", "encryptedHeaders"])
def test_duplicate_header_names_differing_only_by_case_are_refused(field: str) -> None:
    problems = problems_of(make_draft(**{field: {"X-Foo": "1", "x-foo": "2", "X-FOO": "3"}}))
    assert problems == [
        Problem(f"/{field}/x-foo", "header names must be unique (case-insensitive)"),
        Problem(f"/{field}/X-FOO", "header names must be unique (case-insensitive)"),
    ]


@pytest.mark.parametrize("encrypted_name", ["X-Foo", "x-foo", "X-FOO"])
def test_same_header_name_in_headers_and_encrypted_headers_is_refused(
    encrypted_name: str,
) -> None:
    draft = make_draft(headers={"X-Foo": "1"}, encryptedHeaders={encrypted_name: "2"})
    assert problems_of(draft) == [
        Problem(f"/encryptedHeaders/{encrypted_name}", "is also given in headers")
    ]


def test_distinct_names_in_headers_and_encrypted_headers_are_accepted() -> None:
    draft = make_draft(headers={"X-Foo": "1"}, encryptedHeaders={"X-Bar": "2"})
    assert problems_of(draft) == []


def test_header_problem_field_is_an_escaped_json_pointer() -> None:
    draft = make_draft(
        headers={"X~Tilde": "a\nb", "X/Slash": "v"}, encryptedHeaders={"x~tilde": "v"}
    )
    assert fields_of(problems_of(draft)) == [
        "/headers/X~0Tilde",
        "/headers/X~1Slash",
        "/encryptedHeaders/x~0tilde",
    ]


def test_header_problems_are_collected_for_every_header() -> None:
    problems = header_problems({"Bad Name": "a\nb", "Host": "h", "X-Ok": "ok"}, "/headers")
    assert problems == [
        Problem("/headers/Bad Name", "header name must be an HTTP token"),
        Problem("/headers/Bad Name", "header value must not contain CR, LF or controls"),
        Problem("/headers/Host", "Host is set by hookline and cannot be overridden"),
    ]


@given(
    headers=st.dictionaries(
        st.text(TOKEN_CHARACTERS, min_size=1, max_size=20).map(lambda name: "X-" + name),
        st.text(
            st.characters(min_codepoint=0x20, exclude_categories=["Cs"], exclude_characters="\x7f"),
            max_size=300,
        ),
        max_size=10,
    )
)
def test_any_header_map_of_tokens_and_printable_values_obeys_only_the_size_and_case_rules(
    headers: dict[str, str],
) -> None:
    problems = header_problems(headers, "/headers")
    distinct = len({name.lower() for name in headers})
    expected = len(headers) - distinct + (1 if headers_size(headers) > MAX_HEADER_BYTES else 0)
    assert len(problems) == expected


# -- event types ---------------------------------------------------------------------------


def test_empty_event_type_list_is_refused() -> None:
    assert problems_of(make_draft(eventTypes=[])) == [
        Problem("/eventTypes", "must name at least one event type")
    ]


def test_unknown_event_type_is_refused_naming_its_index() -> None:
    draft = make_draft(eventTypes=[APP_CREATED, "com.qlik.v1.app.renamed"])
    assert problems_of(draft) == [
        Problem("/eventTypes/1", "unknown event type 'com.qlik.v1.app.renamed'")
    ]


@pytest.mark.parametrize("name", ["", "COM.QLIK.V1.APP.CREATED", " com.qlik.v1.app.created"])
def test_event_type_names_match_exactly(name: str) -> None:
    assert fields_of(problems_of(make_draft(eventTypes=[name]))) == ["/eventTypes/0"]


@pytest.mark.parametrize("name", TENANT_ONLY_TYPES)
def test_user_level_webhook_cannot_subscribe_to_tenant_only_type(name: str) -> None:
    problems = problems_of(make_draft(eventTypes=[APP_CREATED, name]), level="user")
    assert problems == [Problem("/eventTypes/1", f"{name} is not available to user-level webhooks")]


def test_user_level_webhook_subscribing_to_app_deleted_is_refused() -> None:
    problems = problems_of(make_draft(eventTypes=["com.qlik.v1.app.deleted"]), level="user")
    assert fields_of(problems) == ["/eventTypes/0"]


def test_tenant_level_webhook_may_subscribe_to_every_built_in_type() -> None:
    every = [event_type.name for event_type in CATALOG.all()]
    assert problems_of(make_draft(eventTypes=every), level="tenant") == []


def test_user_level_webhook_may_subscribe_to_every_user_level_type() -> None:
    assert problems_of(make_draft(eventTypes=list(USER_LEVEL_TYPES)), level="user") == []


def test_event_type_problems_report_each_bad_entry() -> None:
    problems = event_type_problems(
        ["nope", APP_CREATED, "com.qlik.v1.user.deleted"], "user", CATALOG
    )
    assert fields_of(problems) == ["/eventTypes/0", "/eventTypes/2"]


def test_repeated_event_type_is_accepted() -> None:
    names = [APP_CREATED, "com.qlik.v1.app.deleted", APP_CREATED, "com.qlik.v1.app.deleted"]
    assert problems_of(make_draft(eventTypes=names)) == []


# -- filter --------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ['id eq "a1"', 'id eq "a1" or spaceId eq "s9"', "", "  "])
def test_valid_or_blank_filter_is_accepted(expression: str) -> None:
    assert problems_of(make_draft(filter=expression)) == []


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("id eq", 5),
        ('id eq "a" and', 13),
        ('(id eq "a"', 10),
        ('id eq "a', 6),
    ],
)
def test_malformed_filter_is_refused_naming_filter_and_position(
    expression: str, position: int
) -> None:
    problems = problems_of(make_draft(filter=expression))
    assert fields_of(problems) == ["/filter"]
    assert problems[0].message.endswith(f"at position {position}")


def test_filter_longer_than_4096_characters_is_refused() -> None:
    expression = 'id eq "' + "a" * 4090 + '"'
    assert len(expression) == 4098
    assert problems_of(make_draft(filter=expression)) == [
        Problem("/filter", "must be at most 4096 characters")
    ]


# -- all at once ---------------------------------------------------------------------------


def test_every_broken_rule_is_reported_at_once() -> None:
    draft = make_draft(
        name="",
        description="d" * 2000,
        url="http://hooks.example.com/",
        secret="short",
        headers={"Host": "x", "X-Dup": "1"},
        encryptedHeaders={"x-dup": "2"},
        eventTypes=["unknown.type"],
        filter="id eq",
    )
    assert fields_of(problems_of(draft)) == [
        "/name",
        "/description",
        "/url",
        "/secret",
        "/headers/Host",
        "/encryptedHeaders/x-dup",
        "/eventTypes/0",
        "/filter",
    ]


def test_invalid_input_message_names_every_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(make_draft(name="", secret="x"), level="tenant", catalog=CATALOG)
    assert str(caught.value) == (
        "/name: is required and must not be blank; /secret: must be 32 to 64 characters long"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a\ud800"},
        {"description": "\udfff"},
        {"secret": "s" * 31 + "\ud800"},
        {"filter": 'id eq "\ud800"'},
        {"headers": {"X-A": "\ud800"}},
        {"encryptedHeaders": {"X-\ud800": "v"}},
        {"eventTypes": ["\ud800"]},
        {"name": "a\x00b"},
        {"url": "https://hooks.example.com/\x00"},
        {"headers": {"X\x00Foo": "v"}},
        {"headers": {"X-Foo": "a\x00b"}},
    ],
)
def test_text_that_no_database_or_header_can_hold_is_refused_when_read(
    fields: dict[str, object],
) -> None:
    # JSON may carry "\ud800" or "\u0000"; PostgreSQL text holds neither.
    body = {"name": "n", "url": "https://hooks.example.com/", "eventTypes": ["x"], **fields}
    with pytest.raises(pydantic.ValidationError, match=r"unpaired surrogates|NUL"):
        Draft.model_validate(body)


header_text = st.text(max_size=12) | st.text(TOKEN_CHARACTERS + " :\r\n\t\x00\x7fé", max_size=12)


@given(
    field=st.sampled_from(["headers", "encryptedHeaders"]),
    headers=st.dictionaries(header_text, header_text, max_size=4),
)
def test_headers_the_rules_accept_are_valid_http_and_not_hooklines_own(
    field: str, headers: dict[str, str]
) -> None:
    """Any header map: refused with hookline's own errors only, or every header is one that
    an HTTP/1.1 implementation (h11) sends as it is, and none overrides hookline's."""
    try:
        draft = make_draft(**{field: headers})
    except pydantic.ValidationError:
        return  # text no database or header can hold
    if problems_of(draft):
        return
    # Whitespace around a value is optional whitespace to HTTP (RFC 9110 5.5): sent, then
    # trimmed by every parser. hookline accepts it (as Qlik does); h11 wants it gone.
    lines = [(name.encode(), value.strip(" \t").encode()) for name, value in headers.items()]
    h11.Request(method="POST", target="/", headers=[(b"Host", b"h"), *lines])
    assert not {name.lower() for name in headers} & {name.lower() for name in RESERVED_NAMES}
    assert headers_size(headers) <= MAX_HEADER_BYTES
