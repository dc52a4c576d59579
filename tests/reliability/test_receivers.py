"""Misbehaving receivers, end to end through a running ``hookline serve``: each on a webhook
of its own, while a healthy webhook's deliveries keep flowing. Every one ends in the right
outcome, recorded in the delivery history, in a time bounded by the configured timeouts and
in bounded memory."""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.databases import Templates, fresh_database
from tests.delivery.receivers import HOST, Receiver, Reply
from tests.ports import refused_port
from tests.processes import APP_CREATED, Process, admin_key, environment, stop_all
from tests.reliability import misbehaving
from tests.reliability.figures import report
from tests.reliability.misbehaving import Misbehaving
from tests.servers import Client

BOUND = 90  # seconds: "did not hang", never a performance claim
REQUEST_TIMEOUT = 5.0
RETRY_AFTER_CAP = 2.0
STORM = "com.qlik.v1.app.deleted"
HEALTHY = "com.qlik.v1.app.published"
DISABLED = "hookline.webhook.disabled"
SETTINGS = {
    "connect_timeout": "1",
    "request_timeout": str(REQUEST_TIMEOUT),
    "lease_seconds": "30",
    "retry_schedule": "0,0.3",
    "retry_after_cap": str(RETRY_AFTER_CAP),
    "disable_after_failures": "3",
}
# How much the server's peak RSS may grow while it takes a 100 MB response, and the rest.
RSS_GROWTH_LIMIT_KIB = 50 * 1024


@pytest.fixture(scope="module")
def bad() -> Iterator[Misbehaving]:
    servers = Misbehaving()
    servers.start()
    yield servers
    servers.stop()


def _tls(ca: trustme.CA, *, expired: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if expired:
        not_after = datetime.now(UTC) - timedelta(days=1)
        certificate = ca.issue_cert(
            HOST, not_before=not_after - timedelta(days=30), not_after=not_after
        )
    else:
        certificate = ca.issue_cert(HOST)
    certificate.configure_cert(context)
    return context


@dataclass
class Hookline:
    """A serve process and a tenant admin of it."""

    process: Process
    admin: Client
    webhooks: dict[str, str] = field(default_factory=dict)

    def webhook(self, name: str, url: str, event_type: str = APP_CREATED) -> str:
        body = {"name": name, "url": url, "eventTypes": [event_type]}
        response = self.admin.post("/api/v1/webhooks", json=body)
        assert response.status_code == 201, response.text
        self.webhooks[name] = response.json()["id"]
        return self.webhooks[name]

    def publish(self, event_type: str, count: int = 1) -> None:
        events = [{"type": event_type, "data": {"n": n}} for n in range(count)]
        response = self.admin.post("/api/v1/events", json=events)
        assert response.status_code == 202, response.text

    def deliveries(self, name: str) -> list[dict[str, Any]]:
        response = self.admin.get(
            f"/api/v1/webhooks/{self.webhooks[name]}/deliveries", params={"limit": 100}
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def ended(self, name: str, count: int = 1) -> list[dict[str, Any]]:
        """The webhook's deliveries once ``count`` of them have ended (no retry due)."""
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            found = self.deliveries(name)
            if len(found) >= count and all(
                d["nextAttemptAt"] is None and d["status"] != "pending" for d in found
            ):
                return found
            time.sleep(0.1)
        raise AssertionError(f"{name}: deliveries never ended: {found}")

    def enabled(self, name: str) -> dict[str, Any]:
        return dict(self.admin.get(f"/api/v1/webhooks/{self.webhooks[name]}").json())


@pytest.fixture
def hookline(
    templates: Templates, tmp_path: Path, ca_file: Path, processes: list[Process]
) -> Iterator[Hookline]:
    with fresh_database("sqlite", templates, tmp_path) as database_url:
        environ = environment(database_url, ca_file, **SETTINGS)
        key = admin_key(database_url)
        process = Process(environ, "serve", log=tmp_path / "hookline.log")
        processes.append(process)
        yield Hookline(process, Client(process.url(), key))
        stop_all(processes)


@pytest.fixture
def refused() -> Iterator[int]:
    with refused_port() as port:
        yield port


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_misbehaving_receivers_end_right_and_never_stall_the_others(
    hookline: Hookline, bad: Misbehaving, receiver: Receiver, ca: trustme.CA, refused: int
) -> None:
    good = _tls(ca)
    ports = {
        "reset": bad.serve(misbehaving.reset_mid_response, good),
        "not-tls": bad.serve(misbehaving.not_tls, None),
        "expired": bad.serve(misbehaving.answer_ok, _tls(ca, expired=True)),
        "slowloris": bad.serve(misbehaving.slow_headers, good),
        "endless": bad.serve(misbehaving.dribbled_body, good),
        "huge": bad.serve(misbehaving.huge_body, good),
        "refused": refused,
    }
    for name, port in ports.items():
        hookline.webhook(name, f"https://{HOST}:{port}/in")
    paths = {name: f"/{name}-{uuid.uuid4().hex[:8]}" for name in ("ok", "target", "watch")}
    loopback = f"https://127.0.0.1:{receiver.port}{paths['target']}"
    scripted = {
        "redirect-loopback": [Reply(302, {"Location": loopback})],
        "redirect-private": [Reply(307, {"Location": "https://10.0.0.1/in"})],
        "too-many": [Reply(429, {"Retry-After": "3600"}), Reply(200)],
        "storm": [Reply(500)],
        "ok": [Reply(200)],
        "watch": [Reply(200)],
    }
    for name, replies in scripted.items():
        paths.setdefault(name, f"/{name}-{uuid.uuid4().hex[:8]}")
        receiver.script(paths[name], *replies)
    url = f"https://{HOST}:{receiver.port}"
    hookline.webhook("wrong-name", f"https://wrong.example.test:{receiver.port}/in")
    for name in ("redirect-loopback", "redirect-private", "too-many"):
        hookline.webhook(name, url + paths[name])
    hookline.webhook("storm", url + paths["storm"], STORM)
    hookline.webhook("healthy", url + paths["ok"], HEALTHY)
    hookline.webhook("watch", url + paths["watch"], DISABLED)
    rss_before = hookline.process.peak_rss_kib()

    hookline.publish(APP_CREATED)
    hookline.publish(STORM, 3)
    _wait(lambda: bad.connections[ports["slowloris"]] > 0, "the slowloris never got a request")
    _wait(lambda: bad.connections[ports["endless"]] > 0, "the endless body never got a request")
    hookline.publish(HEALTHY, 5)
    receiver.wait_for(paths["ok"], 5, timeout=BOUND)
    # Delivered while the hanging receivers' first attempts were still in flight.
    assert not any(d["attempts"] for d in hookline.deliveries("slowloris"))
    assert not any(d["attempts"] for d in hookline.deliveries("endless"))

    outcomes = {
        name: hookline.ended(name)
        for name in hookline.webhooks
        if name not in ("storm", "healthy", "watch")
    }
    _assert_outcomes(outcomes)
    assert receiver.received(paths["target"]) == []
    first, second = receiver.received(paths["too-many"])
    assert second.at - first.at >= RETRY_AFTER_CAP * 0.9  # Retry-After, capped, is honoured

    hookline.ended("storm", 3)
    _wait(lambda: not hookline.enabled("storm")["enabled"], "the storm never disabled its webhook")
    assert hookline.enabled("storm")["disabledReasonCode"] == "delivery-failures"
    [disabled] = receiver.wait_for(paths["watch"], 1, timeout=BOUND)
    assert f'"{hookline.webhooks["storm"]}"' in disabled.body.decode()

    growth = hookline.process.peak_rss_kib() - rss_before
    assert growth < RSS_GROWTH_LIMIT_KIB, f"peak RSS grew by {growth} KiB"
    report(
        "receivers",
        webhooks=len(hookline.webhooks),
        peak_rss_growth_mib=round(growth / 1024, 1),
        longest_attempt_ms=round(
            max(a["durationMs"] for d in outcomes.values() for a in d[0]["attempts"])
        ),
    )


def _assert_outcomes(outcomes: dict[str, list[dict[str, Any]]]) -> None:
    def only(name: str) -> dict[str, Any]:
        [delivery] = outcomes[name]
        return delivery

    def errors(name: str) -> list[str]:
        return [str(a["error"]) for a in only(name)["attempts"]]

    for name in ("refused", "reset", "not-tls", "expired", "wrong-name", "slowloris"):
        assert only(name)["status"] == "fail", (name, only(name))
        assert len(only(name)["attempts"]) == 2, (name, only(name))
        assert all(a["statusCode"] is None for a in only(name)["attempts"]), name
    assert all("connection refused" in e for e in errors("refused")), errors("refused")
    reset = ("the server closed the connection", "the connection failed: connection reset")
    assert all(e.startswith(reset) for e in errors("reset")), errors("reset")
    assert all("TLS handshake failed" in e for e in errors("not-tls")), errors("not-tls")
    assert all("certificate" in e and "expired" in e for e in errors("expired")), errors("expired")
    assert all("certificate" in e for e in errors("wrong-name")), errors("wrong-name")
    # Cut by the configured request timeout, in hookline's own words: how long the attempts
    # took is a figure (report below), not an assertion a loaded machine could fail.
    cut = f"timeout after {REQUEST_TIMEOUT:g} s"
    assert all(cut in e for e in errors("slowloris")), errors("slowloris")
    # A 200 whose body never ends: the status is kept, the body is given up on.
    assert only("endless")["attempts"][0]["statusCode"] == 200
    assert cut in errors("endless")[0]
    huge = only("huge")
    assert huge["status"] == "success"
    assert len(huge["response"]["body"]) == 64 * 1024
    for name, status in (("redirect-loopback", 302), ("redirect-private", 307)):
        assert only(name)["status"] == "fail"
        assert [a["statusCode"] for a in only(name)["attempts"]] == [status, status]
    assert [a["statusCode"] for a in only("too-many")["attempts"]] == [429, 200]
