"""Where hookline's CPU goes, by part of the engine, from a py-spy profile.

``python -m bench --scenario e2e --profile-table`` records ``hookline serve`` with
``py-spy record --threads --nonblocking --format raw`` during the timed part of each
throughput run, and measures every thread's CPU time over the same window
(``bench.procs.ThreadWatch``). ``table`` then makes the profile table: each thread's busy
samples (py-spy leaves out threads the OS shows idle; stacks that are plainly waiting for
work are left out too) are sorted into parts, and each thread's CPU time is shared out in
proportion to its samples, so the parts add up to the CPU per delivery measured. The
result is microseconds of CPU per delivery by part, next to the bare client's CPU per
request of the same run (the report adds that).

A sample goes to the part of its innermost frame that names one (``_part``): a frame of
aiohttp inside ``Sender.send`` is HTTP, an HMAC inside ``Attempter.headers`` is signing,
SQL inside ``DeliveryQueue.record``'s transaction is "record outcome"; generic frames
(asyncio, SQLAlchemy, json, the stdlib) take the part of their caller. A stack with no
such frame is the event loop's own (uvloop, in C) when only the loop and asyncio are on
it, a reader thread's query, or "other"; the table keeps the commonest "other" frames so
that the next person can teach ``FRAME_PARTS`` about them.

    python -m bench.profile_summary bench/results/<stamp>-e2e-sqlite.txt [--top 30]

prints the table again from a recording (with the ``.threads.json`` written beside it),
after a change to the parts, and the hottest functions.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HTTP = "HTTP send + I/O callbacks (aiohttp, TLS)"
CLAIM = "storage: claim"
RECORD = "storage: record outcome"
FANOUT_INSERT = "storage: fan-out insert"
TRANSACTION = "storage: transaction/commit/checkpoint"
READS = "storage: reads (reader threads)"
LOOP = "asyncio loop, tasks and dispatcher bookkeeping"
LOGGING = "logging"
SIGNING = "signing and headers"
METRICS = "metrics"
FANOUT = "fan-out / envelopes / ids"
API = "API (publishing)"
OTHER = "other"
PARTS = [
    HTTP,
    CLAIM,
    RECORD,
    FANOUT_INSERT,
    TRANSACTION,
    READS,
    LOOP,
    LOGGING,
    SIGNING,
    METRICS,
    FANOUT,
    API,
    OTHER,
]

# hookline's store: the part of a function by name, whichever class defines it (the
# qualname's parts: ``DeliveryQueue.claim.<locals>.work`` is "claim", ``SqliteStore._lease``
# is "_lease"). Helpers not named (``_insert_rows``, ``_mark_due``, ``_time``…) take the
# part of the transaction that called them, and so does ``_write``, the hand-over of a
# transaction (to SQLite's writer thread, or to PostgreSQL through the loop).
STORE_NAMES: dict[str, str] = {
    **dict.fromkeys(("claim", "_heads", "_lease", "_refresh_heads", "_claimed"), CLAIM),
    **dict.fromkeys(("release", "renew"), CLAIM),
    **dict.fromkeys(
        ("record", "_write_outcomes", "_keep_failing", "_outcome_row", "_attempt_row"), RECORD
    ),
    **dict.fromkeys(
        ("claim_fanout", "expand", "_insert_deliveries", "_to_live_webhooks", "add_delivery"),
        FANOUT_INSERT,
    ),
    **dict.fromkeys(("publish", "_take_quota", "_insert_events"), API),
    **dict.fromkeys(("subscribed", "_subscribed"), FANOUT),
    **dict.fromkeys(("queue_stats",), METRICS),
    **dict.fromkeys(("_read", "_read_transaction"), READS),
    # the store's wake-ups: a worker waiting for work, a transaction saying it made some
    **dict.fromkeys(
        ("wait_for_work", "wait_for_events", "_wait_for", "_arrived", "_announce", "_listen"),
        LOOP,
    ),
    **dict.fromkeys(
        (
            "_transaction",
            "available",
            "WriterThread",
            "Checkpointer",
            "_configure",
            "_bound_transaction",
            "_check_for_the_client",
        ),
        TRANSACTION,
    ),
}
# Other frames: (part, file prefixes, qualname parts or None for any function there).
# First match wins, so the narrower rules of a file come before its catch-all.
FRAME_PARTS: list[tuple[str, tuple[str, ...], frozenset[str] | None]] = [
    # BEGIN, COMMIT, ROLLBACK, pings and pool checkouts, whichever transaction they serve
    # (on PostgreSQL a transaction's statements run on the loop, under the coroutine that
    # asked for it: ``DeliveryQueue.claim`` → ``SqlBase._write`` → asyncpg)
    (TRANSACTION, ("asyncpg/transaction.py", "sqlalchemy/pool/"), None),
    (
        TRANSACTION,
        ("sqlalchemy/",),
        frozenset(
            {
                "_start_transaction",
                "_async_ping",
                "do_ping",
                "do_commit",
                "do_rollback",
                "_commit_impl",
                "_rollback_impl",
            }
        ),
    ),
    (SIGNING, ("hookline/dispatcher.py",), frozenset({"headers"})),
    (CLAIM, ("hookline/shares.py",), frozenset({"allocate"})),
    (METRICS, ("hookline/runtime.py",), frozenset({"_refresh_gauges"})),
    (FANOUT, ("hookline/deliveries.py",), frozenset({"new_delivery_id"})),
    (
        HTTP,
        (
            "hookline/sender.py",
            "hookline/egress.py",
            "hookline/revocation.py",
            "aiohttp/",
            "aiohappyeyeballs/",
            "yarl/",
            "multidict/",
            "propcache/",
            "ssl.py",
        ),
        None,
    ),
    (SIGNING, ("hookline/signing.py", "hookline/vault.py", "hmac.py", "cryptography/"), None),
    (METRICS, ("hookline/metrics.py", "prometheus_client/"), None),
    (LOGGING, ("hookline/telemetry.py", "hookline/logs.py", "structlog/", "logging/"), None),
    (
        FANOUT,
        (
            "hookline/fanout.py",
            "hookline/envelopes.py",
            "hookline/matching.py",
            "hookline/filters.py",
        ),
        None,
    ),
    (
        API,
        (
            "hookline/api/",
            "hookline/publishing.py",
            "hookline/auth.py",
            "hookline/quotas.py",
            "hookline/ratelimit.py",
            "hookline/server.py",
            "fastapi/",
            "starlette/",
            "uvicorn/",
            "h11/",
            "httptools/",
            "pydantic/",
            "anyio/",
        ),
        None,
    ),
    (LOOP, ("hookline/dispatcher.py", "hookline/shares.py", "hookline/retry.py"), None),
]
# Frames of the event loop's own machinery: a stack of nothing else is the loop's (uvloop's
# C code: polling, callbacks, timers, transports).
LOOP_FILES = (
    "asyncio/",
    "uvloop/",
    "contextlib.py",
    "functools.py",
    "concurrent/futures/",
    "threading.py",
    "_weakrefset.py",
    "click/",
    "hookline/cli.py",
)
# A stack with one of these is a thread waiting for work, not working.
IDLE = (
    "_worker (concurrent/futures/thread.py:81)",
    "Queue.get (",
    "Condition.wait (",
    "Event.wait (threading.py",
    "WorkerThread.run (anyio",
)

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
_THREAD = re.compile(r"^thread \((?P<id>0x[0-9A-Fa-f]+|\d+)\)(?:: (?P<name>.*))?$")


def _frame(text: str) -> tuple[str, str]:
    """(qualname, file) of a py-spy frame ``name (file:line)``."""
    found = _FRAME.match(text)
    return (found["name"], found["file"]) if found else (text, "")


def _frame_part(name: str, file: str) -> str | None:
    parts = name.split(".")
    if file.startswith("hookline/store/"):
        for component in reversed(parts):
            if component in STORE_NAMES:
                return STORE_NAMES[component]
        return None
    for part, prefixes, names in FRAME_PARTS:
        if file.startswith(prefixes) and (names is None or names.intersection(parts)):
            return part
    return None


def classify(frames: list[str]) -> str:
    """The part of one busy stack (root first, no thread frame)."""
    parsed = [_frame(f) for f in frames]
    for name, file in reversed(parsed):
        part = _frame_part(name, file)
        if part is not None:
            return part
    files = [file for _, file in parsed]
    if any(f.startswith(("sqlalchemy/", "asyncpg/")) for f in files):
        return TRANSACTION
    if any(f.startswith("asyncio/runners.py") for f in files) and all(
        f.startswith(LOOP_FILES) or f in ("", "hookline")
        for f in files  # (the script)
    ):
        return LOOP
    return OTHER


def idle(frames: list[str]) -> bool:
    stack = ";".join(frames)
    if any(marker in stack for marker in IDLE):
        return True
    # a thread pool's thread waiting for its next job (its last frame is the loop itself)
    return bool(frames) and frames[-1].startswith("_worker (concurrent/futures/thread.py")


class Recording:
    """A py-spy raw recording: busy samples by thread and part, idle samples by thread."""

    def __init__(self, path: Path | str) -> None:
        self.busy: dict[str, Counter[str]] = defaultdict(Counter)
        self.idle: Counter[str] = Counter()
        self.names: dict[str, str] = {}
        self.other_frames: dict[str, Counter[str]] = defaultdict(Counter)
        self.inclusive: Counter[str] = Counter()
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if count.isdigit():
                    self._add(stack.split(";"), int(count))

    def _add(self, frames: list[str], samples: int) -> None:
        tid = "?"
        found = _THREAD.match(frames[0]) if frames else None
        if found:
            tid = found["id"]
            if found["name"]:
                self.names[tid] = found["name"]
            frames = frames[1:]
        if idle(frames):
            self.idle[tid] += samples
            return
        part = classify(frames)
        self.busy[tid][part] += samples
        if part == OTHER:
            self.other_frames[tid][_short(frames[-1]) if frames else "(no Python frame)"] += samples
        for frame in {_short(f) for f in frames[1:]}:
            self.inclusive[frame] += samples


def _short(frame: str) -> str:
    return re.sub(r" \(.*?/(site-packages|src|python3\.\d+)/", " (", frame)


def table(recording_path: Path | str, watched: dict[str, Any], deliveries: int) -> dict[str, Any]:
    """The profile table of one run: microseconds of CPU per delivery by part (each
    thread's measured CPU shared out by its busy samples), by thread, and what waiting
    for the GIL cost in wall time (not in the total)."""
    recording = Recording(recording_path)
    if deliveries <= 0:
        return {"error": "no deliveries in the window"}
    per = 1e6 / deliveries
    parts: dict[str, float] = dict.fromkeys(PARTS, 0.0)
    threads = []
    other: Counter[str] = Counter()
    unsampled = []
    thread_cpu = 0.0
    for tid, info in watched["threads"].items():
        cpu = info["cpu_seconds"]
        thread_cpu += cpu
        name = recording.names.get(tid) or (
            "main (event loop)" if tid == str(watched["pid"]) else f"{tid} (never busy in a sample)"
        )
        busy = recording.busy.get(tid, Counter())
        total = sum(busy.values())
        if total:
            for part, samples in busy.items():
                parts[part] += cpu * samples / total * per
            for frame, samples in recording.other_frames.get(tid, Counter()).items():
                other[frame] += cpu * samples / total * per
        elif cpu > 0:
            parts[OTHER] += cpu * per
            unsampled.append(name)
            other[f"(thread {name}: CPU but no busy sample)"] += cpu * per
        samples = info.get("samples") or 0
        threads.append(
            {
                "thread": name,
                "tid": tid,
                "cpu_us": round(cpu * per, 1),
                "busy_samples": total,
                "idle_samples": recording.idle.get(tid, 0),
                "gil_wait_us": round(info["gil"] / samples * watched["seconds"] * per, 1)
                if samples
                else None,
                "running_share": round(info["running"] / samples, 3) if samples else None,
                "switches_per_delivery": round(
                    (info["voluntary_switches"] + info["involuntary_switches"]) / deliveries, 2
                ),
            }
        )
    ended = watched["process_cpu_seconds"] - thread_cpu
    if ended > 0.01:  # threads that ended during the window: their CPU, never sampled apart
        parts[OTHER] += ended * per
        other["(threads that ended during the window)"] += ended * per
    threads.sort(key=lambda t: -t["cpu_us"])
    writer = next((t for t in threads if "sqlite-writer" in t["thread"]), None)
    loop = next((t for t in threads if t["tid"] == str(watched["pid"])), None)
    return {
        "deliveries": deliveries,
        "seconds": watched["seconds"],
        "sample_rate": watched["sample_rate"],
        "cpu_us_per_delivery": round(watched["process_cpu_seconds"] * per, 1),
        "parts_us": {part: round(value, 1) for part, value in parts.items()},
        "gil_wait_us": {
            "sqlite_writer": writer["gil_wait_us"] if writer else None,
            "event_loop": loop["gil_wait_us"] if loop else None,
            "note": watched.get("gil_note") or "",
        },
        "threads": threads,
        "other_top": [[frame, round(us, 1)] for frame, us in other.most_common(12)],
        "busy_samples": sum(sum(c.values()) for c in recording.busy.values()),
        "idle_samples": sum(recording.idle.values()),
        "unsampled_threads": unsampled,
        "recording": str(recording_path),
    }


def markdown(profile: dict[str, Any], bare_us: float | None, title: str) -> list[str]:
    """The table of ``table`` in Markdown, with the bare client's CPU per request."""
    if "parts_us" not in profile:
        return [f"{title}: {profile.get('error', 'no profile')}"]
    total = profile["cpu_us_per_delivery"]
    lines = [
        f"{title}: {profile['deliveries']:,} deliveries in {profile['seconds']:.1f} s, py-spy at "
        f"{profile['sample_rate']:g} Hz, {profile['busy_samples']:,} busy samples; each "
        "thread's CPU time shared out by its samples.",
        "",
        "| part | µs/delivery | share |",
        "|---|---|---|",
    ]
    for part in PARTS:
        value = profile["parts_us"].get(part, 0.0)
        lines.append(f"| {part} | {value:,.0f} | {100 * value / total if total else 0:.0f}% |")
    lines.append(f"| **total** (hookline serve, measured) | **{total:,.0f}** | 100% |")
    if bare_us:
        lines.append(
            f"| bare client, same run (µs/request) | {bare_us:,.0f} | "
            f"hookline = {total / bare_us:.2f} × |"
        )
    gil = profile["gil_wait_us"]
    if gil.get("sqlite_writer") is not None or gil.get("event_loop") is not None:
        lines.append(
            "| waiting for the GIL, wall time, not CPU (not in the total): SQLite writer "
            f"thread / event loop | {_num(gil.get('sqlite_writer'))} / "
            f"{_num(gil.get('event_loop'))} | |"
        )
    elif gil.get("note"):
        lines.append(f"| waiting for the GIL | not measured: {gil['note']} | |")
    lines += [
        "",
        "| thread | CPU µs/delivery | GIL wait µs/delivery (wall) | on a CPU or runnable | "
        "context switches/delivery |",
        "|---|---|---|---|---|",
    ]
    for thread in profile["threads"]:
        if thread["cpu_us"] < 0.5 and (thread["gil_wait_us"] or 0) < 0.5:
            continue
        running = thread["running_share"]
        lines.append(
            f"| {thread['thread']} | {thread['cpu_us']:,.0f} | {_num(thread['gil_wait_us'])} | "
            f"{'—' if running is None else f'{100 * running:.0f}%'} | "
            f"{thread['switches_per_delivery']} |"
        )
    if profile["other_top"]:
        shown = "; ".join(f"{frame} {us:.0f}" for frame, us in profile["other_top"][:5])
        lines += ["", f'Commonest frames in "other" (µs/delivery): {shown}.']
    return lines


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def summarise(path: str, top: int) -> str:
    """Shares of busy samples by part and the hottest functions; with the recording's
    ``.threads.json`` (written by the suite), the µs table too."""
    recording = Recording(path)
    by_part: Counter[str] = Counter()
    for counts in recording.busy.values():
        by_part.update(counts)
    total = sum(by_part.values())
    if not total:
        return "no samples"
    idle_count = sum(recording.idle.values())
    lines = [f"{total} busy samples ({idle_count} more of threads waiting, left out)", ""]
    sidecar = Path(path).with_suffix(".threads.json")
    if sidecar.exists():
        watched = json.loads(sidecar.read_text())
        made = table(path, watched["watched"], watched["deliveries"])
        lines += [*markdown(made, watched.get("bare_us"), Path(path).name), ""]
    lines.append("busy samples by part (not weighted by thread CPU):")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_part.most_common()]
    lines += ["", f"hottest functions (inclusive), top {top}:"]
    lines += [
        f"  {100 * n / total:5.1f}%  {name[:140]}"
        for name, n in recording.inclusive.most_common(top)
    ]
    return "\n".join(lines)


def write_sidecar(
    recording_path: Path, watched: dict[str, Any], deliveries: int, bare_us: float | None = None
) -> None:
    """What ``summarise`` needs besides the recording, beside it."""
    recording_path.with_suffix(".threads.json").write_text(
        json.dumps({"watched": watched, "deliveries": deliveries, "bare_us": bare_us}, indent=1)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
