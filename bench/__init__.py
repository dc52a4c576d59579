"""hookline's benchmark suite; run it with ``make bench`` or ``python -m bench`` (see
docs/benchmarks.md). Not part of the test suite.

This checkout's ``src`` goes first on the path, here and in every process the suite
starts (``bench.procs.child_env``): the suite measures the hookline beside it, even from a
worktree whose venv has another checkout installed."""

import sys
from pathlib import Path

_SRC = Path(__file__).resolve().parent.parent / "src"
if (_SRC / "hookline").is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))
