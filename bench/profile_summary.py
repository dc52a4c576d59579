"""Summarise a py-spy profile in collapsed-stack form (``python -m bench --profile
--profile-format raw`` writes one per hookline run): where hookline's CPU went, by part
of the engine, and the hottest functions.

    python -m bench.profile_summary bench/results/<stamp>-e2e-sqlite.txt [--top 30]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Callable

# First match wins: the part of hookline a sample belongs to, by its frames.
IDLE = ("aiosqlite/core.py:59)", "Queue.get (", "Condition.wait (", "WorkerThread.run (anyio")

PARTS: list[tuple[str, Callable[[str], bool]]] = [
    (
        "SQLite writer thread: whole write transactions (SQL, sqlite3, commits)",
        lambda s: "SqliteStore._transaction" in s,
    ),
    ("SQLite WAL checkpoints (a thread of their own)", lambda s: "Checkpointer._checkpoint" in s),
    (
        "logging (structlog, tracebacks)",
        lambda s: "structlog" in s or "(hookline/telemetry.py" in s,
    ),
    ("publishing (API: parse, plan, insert)", lambda s: "publish_events" in s),
    ("recording outcomes (store.record)", lambda s: "record (" in s or "_flush" in s),
    ("claiming (store.claim)", lambda s: "claim (" in s),
    ("headers: secrets (Fernet) and signatures", lambda s: "Attempter.headers" in s),
    ("sending (aiohttp request and response)", lambda s: "Sender.send" in s),
    ("attempt bookkeeping (results, retry policy)", lambda s: "Attempter." in s),
    ("SQLite (aiosqlite's thread)", lambda s: "aiosqlite" in s and "Thread" in s),
    ("other threads", lambda s: s.startswith("Thread") or "_bootstrap" in s.split(";")[0]),
    ("API server (uvicorn, FastAPI), other requests", lambda s: "uvicorn" in s or "starlette" in s),
    ("SQLAlchemy in the event loop (statements, parameters, rows)", lambda s: "sqlalchemy" in s),
    (
        "HTTP client I/O: TLS, socket writes, response parsing",
        lambda s: "ssl.py" in s or "aiohttp" in s,
    ),
    (
        "event loop itself (uvloop, in C)",
        lambda s: (
            s.rstrip().endswith("Runner.run (asyncio/runners.py:118)")
            or "runners.py" in s.split(";")[-1]
        ),
    ),
    ("other", lambda s: True),
]


def _idle_executor(stack: str) -> bool:
    """A thread pool's thread waiting for its next job (its last frame is the loop itself)."""
    return stack.split(";")[-1].startswith("_worker (concurrent/futures/thread.py")


def _short(frame: str) -> str:
    return re.sub(r" \(.*?/(site-packages|src|python3\.\d+)/", " (", frame)


def summarise(path: str, top: int) -> str:
    parts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    idle = 0
    with open(path, encoding="utf-8", errors="replace") as lines:
        records = [line.rstrip("\n").rpartition(" ") for line in lines]
    for stack, _, count in records:
        if not count.isdigit():
            continue
        samples = int(count)
        if any(marker in stack for marker in IDLE) or _idle_executor(stack):
            idle += samples  # a thread waiting for work, not working
            continue
        total += samples
        for name, matches in PARTS:
            if matches(stack):
                parts[name] += samples
                break
        for frame in {_short(f) for f in stack.split(";")[1:]}:
            inclusive[frame] += samples
    if not total:
        return "no samples"
    lines = [f"{total} busy samples ({idle} more of threads waiting, left out)", "", "by part:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in parts.most_common()]
    lines += ["", f"hottest functions (inclusive), top {top}:"]
    lines += [f"  {100 * n / total:5.1f}%  {name[:140]}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
