"""Clients nobody wrote for hookline work against it unchanged: Qlik's own Python SDK, and a
client generated from hookline's /openapi.json by openapi-python-client."""

from __future__ import annotations

import importlib
import subprocess
import sys
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from qlik_sdk import AuthType, Config, Qlik
from qlik_sdk.apis.Webhooks import WebhookDef, WebhookPatch

from tests.servers import RunningServer, Tenant

APP_CREATED = "com.qlik.v1.app.created"
USER_CREATED = "com.qlik.v1.user.created"


def test_qliks_python_sdk_manages_webhooks(server: RunningServer, tenant: Tenant) -> None:
    qlik = Qlik(
        config=Config(
            host=server.url, auth_type=AuthType.APIKey, api_key=tenant.key("tenant-admin")
        )
    )
    names = [event_type.name for event_type in qlik.webhooks.get_event_types().data]
    assert APP_CREATED in names

    made = [
        qlik.webhooks.create(
            WebhookDef(
                name=f"hook-{number}",
                url=f"https://h{number}.example.com/in",
                eventTypes=[APP_CREATED],
                secret="s" * 32,
                enabled=number != 4,
            )
        )
        for number in range(5)
    ]
    assert made[0].secret is None

    listed = qlik.webhooks.get_webhooks(limit=2, sort="+name", enabled=True)
    assert len(listed) == 2
    assert [hook.name for hook in listed.pagination] == [f"hook-{n}" for n in range(4)]

    hook = qlik.webhooks.get(made[0].id)
    hook.patch([WebhookPatch(op="replace", path="/name", value="renamed")])
    assert qlik.webhooks.get(made[0].id).name == "renamed"

    replaced = hook.set(
        WebhookDef(name="replaced", url="https://x.example.com/", eventTypes=[USER_CREATED])
    )
    assert (replaced.name, replaced.enabled, replaced.eventTypes) == (
        "replaced",
        False,
        [USER_CREATED],
    )

    hook.delete()
    assert sorted(h.id for h in qlik.webhooks.get_webhooks().pagination) == sorted(
        m.id for m in made[1:]
    )


@pytest.fixture(scope="session")
def generated(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The package openapi-python-client generates from the running server's /openapi.json."""
    directory = tmp_path_factory.mktemp("generated")
    spec = directory / "openapi.json"
    spec.write_text(server.client(None).get("/openapi.json").text)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
        ],
        cwd=directory,
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(directory))
    return importlib.import_module("hookline_client")


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_client_generated_from_the_openapi_document_manages_webhooks(
    generated: ModuleType, server: RunningServer, tenant: Tenant
) -> None:
    api = "api.webhooks"
    client = generated.AuthenticatedClient(base_url=server.url, token=tenant.key("tenant-admin"))
    models = _module(generated, "models")

    types = _module(generated, f"{api}.get_webhook_event_types").sync(client=client)
    assert APP_CREATED in [event_type.name for event_type in types.data]

    create = _module(generated, f"{api}.create_webhook")
    for number in range(5):
        body = models.NewWebhook(
            name=f"hook-{number}",
            url=f"https://h{number}.example.com/in",
            # eventTypes is optional (and may be null), hence "Type0", its array form.
            event_types=[models.NewWebhookEventTypesType0Item(APP_CREATED)],
            secret="s" * 32,
        )
        assert create.sync_detailed(client=client, body=body).status_code == 201

    list_webhooks = _module(generated, f"{api}.get_webhooks")
    seen: list[str] = []
    by_name = models.GetWebhooksSort("-name")
    page = list_webhooks.sync(client=client, limit=2, sort=by_name, name="hook")
    while True:
        seen += [hook.name for hook in page.data]
        if not page.links.next_:
            break
        cursor = parse_qs(urlsplit(page.links.next_.href).query)["next"][0]
        page = list_webhooks.sync(client=client, limit=2, sort=by_name, name="hook", next_=cursor)
    assert seen == [f"hook-{n}" for n in reversed(range(5))]

    # sort is published as an enum: the generated client has its values.
    sorts = {member.value for member in models.GetWebhooksSort}
    assert {"name", "+name", "-name", "-createdAt"} <= sorts
    first = list_webhooks.sync(client=client, sort=models.GetWebhooksSort("+name")).data[0]
    patch = [models.Operation(op=models.OperationOp("replace"), path="/enabled", value=False)]
    patched = _module(generated, f"{api}.patch_webhook").sync_detailed(
        first.id, client=client, body=patch
    )
    assert patched.status_code == 204

    replace = models.WebhookReplace(
        name="replaced",
        url="https://x.example.com/",
        event_types=[models.WebhookReplaceEventTypesType0Item(USER_CREATED)],
        enabled=True,
    )
    replaced = _module(generated, f"{api}.update_webhook").sync(
        first.id, client=client, body=replace
    )
    assert (replaced.name, replaced.enabled, replaced.secret_key_added) == ("replaced", True, False)

    deleted = _module(generated, f"{api}.delete_webhook").sync_detailed(first.id, client=client)
    assert deleted.status_code == 204
    missing = _module(generated, f"{api}.get_webhook").sync_detailed(first.id, client=client)
    assert missing.status_code == 404
    assert missing.parsed.errors[0].code == "not-found"
