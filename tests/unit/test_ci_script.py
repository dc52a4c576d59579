"""The CI entry point itself forbids PostgreSQL skips: it exports CI=true before the tests
run, rather than trusting the runner to set it (tests/databases.py skips PostgreSQL tests
only when CI is not "true")."""

from __future__ import annotations

from pathlib import Path

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"


def test_ci_run_exports_ci_true_before_running_the_tests() -> None:
    lines = [line.strip() for line in CI_RUN.read_text().splitlines()]
    exported = lines.index("export CI=true")
    tests = next(n for n, line in enumerate(lines) if line.startswith("make test"))
    assert exported < tests
