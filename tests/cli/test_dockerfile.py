"""What can be checked of the Dockerfile without building it: its instructions, read as
Docker reads them. `make image-test` (tests/cli/image_run.py) builds the image with podman and
runs it; tests/cli/image_steps.sh runs its steps without podman (see docs/deployment.md)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from hookline.settings import load_settings
from tests.cli import image_run

ROOT = Path(__file__).parents[2]
Instruction = tuple[str, str]


def _instructions() -> list[Instruction]:
    """(keyword, arguments) of each instruction, continuation lines joined, comments out."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found: list[Instruction] = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def _all(keyword: str) -> list[str]:
    return [arguments for found, arguments in _instructions() if found == keyword]


def _only(keyword: str) -> str:
    [arguments] = _all(keyword)
    return arguments


def _environment() -> dict[str, str]:
    variables: dict[str, str] = {}
    for arguments in _all("ENV"):
        for item in shlex.split(arguments):
            name, _, value = item.partition("=")
            variables[name] = value
    return variables


def test_the_base_is_a_slim_python_the_package_supports() -> None:
    base = _only("FROM")
    assert re.fullmatch(r"python:3\.(1[1-9])-slim", base), base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"


def test_the_image_test_has_a_stand_in_for_this_base() -> None:
    # `make image-test` stands a Debian root in for FROM where there is no registry: it must
    # take FROM's name, as Docker reads it, and carry FROM's Python.
    assert image_run.base_image() == f"docker.io/library/{_only('FROM')}"
    assert _only("FROM") == f"python:{image_run.STAND_IN_PYTHON}-slim"


def test_hookline_is_installed_with_the_pinned_versions() -> None:
    assert "pip install -c constraints.txt ." in _all("RUN")
    copied = " ".join(_all("COPY"))
    for needed in ("pyproject.toml", "constraints.txt", "README.md", "src"):
        assert needed in copied


def test_the_build_context_holds_what_is_copied_and_no_database_or_key() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignored  # everything out, then what the image needs let in
    for let_in in ("!pyproject.toml", "!constraints.txt", "!README.md", "!src/"):
        assert let_in in ignored
    for kept_out in ("**/*.db", "**/*.db-*", "**/*.key"):
        assert kept_out in ignored


def test_it_runs_as_a_user_of_its_own_after_installing() -> None:
    instructions = _instructions()
    user = _only("USER")
    assert user not in ("root", "0", "0:0")
    keywords = [keyword for keyword, _ in instructions]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert "useradd --system --uid 10001 --user-group" in " ".join(_all("RUN"))
    assert user == "hookline"


def test_the_database_is_on_the_volume_and_the_settings_are_valid() -> None:
    environment = _environment()
    volume = _only("VOLUME")
    assert environment["HOOKLINE_DATABASE_URL"] == f"sqlite:///{volume}/hookline.db"
    settings = {
        name.removeprefix("HOOKLINE_").lower(): value
        for name, value in environment.items()
        if name.startswith("HOOKLINE_")
    }
    loaded = load_settings(**settings)  # every name a setting, every value valid
    exposed = {int(port) for port in _only("EXPOSE").split()}
    assert exposed == {loaded.port, loaded.metrics_port}
    assert loaded.log_format == "json"  # for the log collector, with `docker run -t` too


def test_the_health_check_asks_the_probes_port_for_healthz() -> None:
    options, _, command = _only("HEALTHCHECK").partition("CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:%s/healthz" in argv[2]
    assert "os.environ['HOOKLINE_METRICS_PORT']" in argv[2]
    assert "HOOKLINE_METRICS_PORT" in _environment()


def test_the_command_is_the_installed_script_serving() -> None:
    argv = json.loads(_only("CMD"))
    assert argv == ["hookline", "serve"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["hookline"] == "hookline.cli:main"
    assert _environment()["HOOKLINE_HOST"] == "0.0.0.0"  # noqa: S104  (the container's ports)
