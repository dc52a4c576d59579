"""HOOKLINE_METRICS_TOKEN: /metrics names tenants, so with a token set it answers only
``Authorization: Bearer <token>``, on the API port and on the probes port alike, while
/healthz and /readyz stay open for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.servers import RunningServer

TOKEN = "metrics-0123456789-abcdef"
WRONG = {
    "none": {},
    "another token": {"Authorization": "Bearer metrics-0123456789-abcdeX"},
    "a prefix of it": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "another scheme": {"Authorization": f"Basic {TOKEN}"},
    "no scheme": {"Authorization": TOKEN},
}
NOT_ASCII = {"Authorization": "Bearer métrics-0123456789-abcdef".encode()}


@pytest.fixture
def guarded(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server(metrics_token=TOKEN, metrics_port=0)


@pytest.fixture
def probes(guarded: RunningServer) -> Iterator[httpx.Client]:
    """The probes port (HOOKLINE_METRICS_PORT) of the same server: a real one, in the
    server's own event loop (its store cannot be used from another loop)."""
    with httpx.Client(base_url=guarded._runtime.probes_url) as client:
        yield client


def _clients(guarded: RunningServer, probes: httpx.Client) -> dict[str, httpx.Client]:
    return {"api": guarded.client(None), "probes": probes}


@pytest.mark.parametrize("port", ["api", "probes"])
@pytest.mark.parametrize("headers", WRONG.values(), ids=WRONG.keys())
def test_metrics_without_the_token_is_a_401_and_shows_nothing(
    guarded: RunningServer, probes: httpx.Client, port: str, headers: dict[str, str]
) -> None:
    response = _clients(guarded, probes)[port].get("/metrics", headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["code"] == "unauthorized"
    assert "hookline_" not in response.text
    assert TOKEN not in response.text


@pytest.mark.parametrize("port", ["api", "probes"])
def test_a_non_ascii_authorization_header_is_a_401_too(
    guarded: RunningServer, probes: httpx.Client, port: str
) -> None:
    response = _clients(guarded, probes)[port].get("/metrics", headers=NOT_ASCII)  # type: ignore[arg-type]

    assert response.status_code == 401, response.text


@pytest.mark.parametrize("port", ["api", "probes"])
def test_metrics_with_the_token_answers(
    guarded: RunningServer, probes: httpx.Client, port: str
) -> None:
    for scheme in ("Bearer", "bearer"):
        response = _clients(guarded, probes)[port].get(
            "/metrics", headers={"Authorization": f"{scheme} {TOKEN}"}
        )

        assert response.status_code == 200, response.text
        assert "hookline_api_requests_total" in response.text


@pytest.mark.parametrize("port", ["api", "probes"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_probes_stay_open_with_a_token(
    guarded: RunningServer, probes: httpx.Client, port: str, path: str
) -> None:
    assert _clients(guarded, probes)[port].get(path).status_code == 200


def test_metrics_stay_open_without_a_token(server: RunningServer) -> None:
    assert server.client(None).get("/metrics").status_code == 200
