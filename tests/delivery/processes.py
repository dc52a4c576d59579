"""Running `hookline` commands as subprocesses, configured for the delivery tests' receiver."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.databases import TEST_SECRET_KEY
from tests.delivery.receivers import FAST


def hookline_environment(database_url: str, ca_file: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    environment.update({f"HOOKLINE_{name.upper()}": str(value) for name, value in FAST.items()})
    environment.update(
        HOOKLINE_DATABASE_URL=database_url,
        HOOKLINE_SECRET_KEY=TEST_SECRET_KEY,
        HOOKLINE_CA_BUNDLE=str(ca_file),
        HOOKLINE_PORT="0",
        HOOKLINE_LEASE_SECONDS="5",
        HOOKLINE_CONNECT_TIMEOUT="1",
        HOOKLINE_REQUEST_TIMEOUT="2",
    )
    return environment


def cli(environment: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hookline", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


class Process:
    def __init__(self, environment: dict[str, str], *args: str, stderr: Path | None = None) -> None:
        """``hookline *args``; its stderr (the logs) goes to the file ``stderr``, if given."""
        with stderr.open("w") if stderr else contextlib.nullcontext() as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "hookline", *args],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=log or subprocess.DEVNULL,
                text=True,
            )

    def url(self) -> str:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if "serving" in line:
                return line.split()[-1]
        raise AssertionError("serve never said where it serves")

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            self.popen.wait(30)
