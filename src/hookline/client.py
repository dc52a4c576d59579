"""A small typed client for hookline's REST API, for services that publish events and
manage webhooks from Python. It needs only httpx, not the rest of hookline::

    from hookline.client import Client, ClientError

    with Client("https://hookline.example.com", api_key) as hookline:
        hookline.publish({"type": "com.qlik.v1.app.created", "data": {"id": "app-1"}})
        for webhook in hookline.list_webhooks(enabled=True, sort="+name"):
            print(webhook["id"], webhook["name"])

Keyword arguments (fields and filters) may be spelled as the API spells them
(``eventTypes``) or in snake case (``event_types``). Answers are the API's JSON objects
(docs/api.md). An error answer raises ClientError; a transport failure (connection
refused, timeout) raises httpx's own ``httpx.TransportError``.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Self
from urllib.parse import quote

import httpx

JSON = dict[str, Any]


class ClientError(Exception):
    """An error answer: its HTTP ``status``, hookline's ``errors`` list (each with
    ``code``, ``title``, ``detail`` and maybe ``source``) and its ``trace_id``."""

    def __init__(self, status: int, errors: list[JSON], trace_id: str | None) -> None:
        self.status = status
        self.errors = errors
        self.trace_id = trace_id
        trace = f" (trace id {trace_id})" if trace_id else ""
        super().__init__(f"HTTP {status}: {self.detail or 'no detail'}{trace}")

    @property
    def detail(self) -> str:
        """Every error's ``detail``, joined by "; "."""
        return "; ".join(
            str(error.get("detail") or error.get("title", "")) for error in self.errors
        )

    @classmethod
    def of(cls, response: httpx.Response) -> ClientError:
        try:
            body = response.json()
            errors, trace_id = list(body["errors"]), body.get("traceId")
        except (ValueError, TypeError, KeyError):  # not hookline's answer (a proxy's, say)
            text = response.text[:200]
            errors, trace_id = (
                [{"code": "error", "title": response.reason_phrase, "detail": text}],
                None,
            )
        return cls(response.status_code, errors, trace_id or response.headers.get("X-Trace-Id"))


class Client:
    """hookline's API at ``base_url`` (e.g. ``https://hookline.example.com``) with one API key.

    ``verify`` is passed to httpx: ``False``, a CA bundle's path or an ``ssl.SSLContext``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        verify: ssl.SSLContext | str | bool = True,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "hookline-client"},
            timeout=timeout,
            verify=verify,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def publish(
        self,
        events: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        tenant_id: str | None = None,
    ) -> list[str]:
        """Publish one event or a list (short form, legacy envelope or CloudEvents); return
        their ids once hookline has stored them. ``tenant_id`` is for operator keys only."""
        body = dict(events) if isinstance(events, Mapping) else [dict(event) for event in events]
        params = {"tenantId": tenant_id} if tenant_id else None
        answer = self._call("POST", "/events", json=body, params=params)
        return [str(event["id"]) for event in answer["data"]]

    def event_types(self, language: str = "en") -> list[JSON]:
        """The event catalog, titles and descriptions in ``language`` ("en" or "ja")."""
        answer = self._call("GET", "/webhooks/event-types", headers={"Accept-Language": language})
        return list(answer["data"])

    def list_webhooks(self, **filters: Any) -> Iterator[JSON]:
        """Every webhook matching ``filters`` (``name``, ``enabled``, ``eventTypes``, ``sort``,
        ``limit`` as page size, …), following ``links.next`` through every page."""
        return self._pages("/webhooks", filters)

    def create_webhook(self, **fields: Any) -> JSON:
        return self._call("POST", "/webhooks", json=_camel_keys(fields))

    def get_webhook(self, id: str) -> JSON:
        return self._call("GET", _path(id))

    def replace_webhook(self, id: str, **fields: Any) -> JSON:
        """A full replace (PUT): writable fields left out are cleared."""
        return self._call("PUT", _path(id), json=_camel_keys(fields))

    def patch_webhook(self, id: str, operations: Sequence[Mapping[str, Any]]) -> None:
        """Apply a JSON Patch, e.g. ``[{"op": "replace", "path": "/enabled", "value": False}]``."""
        self._call("PATCH", _path(id), json=[dict(operation) for operation in operations])

    def delete_webhook(self, id: str) -> None:
        self._call("DELETE", _path(id))

    def rotate_secret(
        self, id: str, secret: str | None = None, grace_seconds: int | None = None
    ) -> JSON:
        """Give the webhook a new secret, the previous one signing too for ``grace_seconds``
        (hookline's default: a day). Without ``secret`` hookline generates one: it is in the
        answer's ``secret``, and nowhere else, ever."""
        body = {"secret": secret, "graceSeconds": grace_seconds}
        return self._call("POST", _path(id) + "/actions/rotate-secret", json=body)

    def send_test(self, id: str, event_type: str | None = None) -> JSON:
        """Send the webhook an example event of ``event_type`` (default: the first of its
        types) now; return the delivery with its outcome (``trigger`` test)."""
        return self._call("POST", _path(id) + "/actions/test", json={"eventType": event_type})

    def deliveries(self, webhook_id: str, **filters: Any) -> Iterator[JSON]:
        """The webhook's delivery history (filters ``eventType``, ``status``, ``sort``,
        ``limit``), following ``links.next`` through every page."""
        return self._pages(_path(webhook_id) + "/deliveries", filters)

    def get_delivery(self, webhook_id: str, delivery_id: str) -> JSON:
        return self._call("GET", _path(webhook_id, delivery_id))

    def resend(self, webhook_id: str, delivery_id: str) -> JSON:
        """Send a delivery again now; return the new delivery with its outcome."""
        return self._call("POST", _path(webhook_id, delivery_id) + "/actions/resend")

    def _pages(self, path: str, filters: Mapping[str, Any]) -> Iterator[JSON]:
        params = {name: _param(value) for name, value in _camel_keys(filters).items()}
        answer = self._call("GET", path, params=params)
        while True:
            yield from answer["data"]
            following = (answer.get("links") or {}).get("next")
            if not following:
                return
            answer = self._call("GET", following["href"])  # absolute, with the same filters

    def _call(self, method: str, path: str, **options: Any) -> JSON:
        response = self._http.request(method, path, **options)
        if not response.is_success:  # 3xx too: a redirect is not hookline's answer
            raise ClientError.of(response)
        if response.status_code == 204 or not response.content:
            return {}
        answer: JSON = response.json()
        return answer


def _path(webhook_id: str, delivery_id: str | None = None) -> str:
    """``/webhooks/{id}`` or ``/webhooks/{id}/deliveries/{id}``, the ids quoted."""
    path = "/webhooks/" + quote(webhook_id, safe="")
    return path if delivery_id is None else f"{path}/deliveries/{quote(delivery_id, safe='')}"


def _camel_keys(fields: Mapping[str, Any]) -> JSON:
    """``event_types`` as ``eventTypes``; names in camel case stay as they are."""
    return {re.sub(r"_([a-z])", lambda m: m[1].upper(), name): v for name, v in fields.items()}


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(item) for item in value)
    return str(value)
