"""The figures the reliability suites measure: printed (``pytest -s`` shows them) and, when
``HOOKLINE_FIGURES`` names a file, appended to it as JSON lines (``make soak`` does)."""

from __future__ import annotations

import json
import os
from pathlib import Path

SOAK = os.environ.get("HOOKLINE_SOAK") == "1"


def report(name: str, **figures: float | int | str) -> None:
    line = json.dumps({"test": name, "soak": SOAK, **figures})
    print(f"reliability figures: {line}")
    if target := os.environ.get("HOOKLINE_FIGURES"):
        with Path(target).open("a") as out:
            out.write(line + "\n")
