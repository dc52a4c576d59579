"""The ten scenarios. Each returns a dict of figures for the result file."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import history, noisy, profile_summary
from bench.common import EVENT_TYPE, PAD, REPO, SECRET_KEY, VENV_BIN, Tls, free_port, lag_summary
from bench.hookline_api import TENANT, Api, Run, hookline_run, publish_all, restart, webhook_url
from bench.procs import Database, Monitor, Receivers, ThreadWatch, postgres_pids

SCENARIOS = (
    "raw",
    "celery",
    "e2e",
    "rate",
    "fanout",
    "isolation",
    "backlog",
    "history",
    "noisy",
    "api",
)

NO_QUOTA = {
    "HOOKLINE_PUBLISH_EVENTS_PER_SECOND": "0",
    "HOOKLINE_PUBLISH_BYTES_PER_SECOND": "0",
    "HOOKLINE_TENANT_DELIVERIES_PER_SECOND": "0",
}


@dataclass(frozen=True)
class Scale:
    raw_count: int
    celery_count: int
    e2e_events: int  # to 10 webhooks: x10 deliveries
    rate_seconds: float
    rate_per_second: int  # deliveries offered per second
    fanout_reps: int
    isolation_events: int  # to 20 webhooks
    backlog: int  # deliveries
    backlog_hold: float  # seconds hookline holds the backlog with the receiver down
    history_rows: int
    history_events: int
    noisy_seconds: float  # each phase: the victim alone, then under attack
    noisy_drain: float  # seconds to wait for the victim's last deliveries
    noisy_bomb_numbers: int  # numbers in the filter bomb's data.a
    noisy_flood_events: int  # events a flood publish (to 100 webhooks)
    noisy_resends: int  # parallel resends a round
    api_requests: int  # GETs of a webhook, one at a time (and a quarter as many pages)
    # Scale-out on PostgreSQL (bench/scaling.py), run only when chosen:
    worker_counts: tuple[int, ...]  # `hookline worker` processes beside serve, each point
    claim_history: int  # deliveries of history the claims are timed with
    claims: int  # timed claims, with and without the history
    purge_rows: int  # deliveries in the day that is purged
    backlog_by_backend: dict[str, int] = dataclasses.field(default_factory=dict)
    history_by_backend: dict[str, int] = dataclasses.field(default_factory=dict)

    def backlog_for(self, backend: str) -> int:
        return self.backlog_by_backend.get(backend, self.backlog)

    def history_for(self, backend: str) -> int:
        return self.history_by_backend.get(backend, self.history_rows)


FULL = Scale(
    raw_count=100_000,
    celery_count=10_000,
    e2e_events=5_000,
    rate_seconds=20,
    rate_per_second=1000,
    fanout_reps=7,
    isolation_events=2_000,
    backlog=1_000_000,
    backlog_hold=15,
    history_rows=5_000_000,
    history_events=5_000,
    noisy_seconds=60,
    noisy_drain=60,
    noisy_bomb_numbers=200_000,
    noisy_flood_events=1_000,
    noisy_resends=300,
    api_requests=4_000,
    worker_counts=(0, 1, 2, 4),
    claim_history=50_000_000,
    claims=2_000,
    purge_rows=5_000_000,
)
QUICK = Scale(
    raw_count=5_000,
    celery_count=300,
    e2e_events=200,
    rate_seconds=1,
    rate_per_second=1000,
    fanout_reps=3,
    isolation_events=60,
    backlog=1_000,
    backlog_hold=0,
    history_rows=5_000,
    history_events=200,
    noisy_seconds=4,
    noisy_drain=20,
    noisy_bomb_numbers=50_000,
    noisy_flood_events=100,
    noisy_resends=100,
    api_requests=400,
    worker_counts=(0, 1),
    claim_history=100_000,
    claims=200,
    purge_rows=50_000,
)


class Bench:
    """What the scenarios share: options, TLS files, the receivers, a client session."""

    def __init__(self, args: Any, scale: Scale, workdir: Path, tls: Tls, out_dir: Path) -> None:
        self.args = args
        self.scale = scale
        self.workdir = workdir
        self.tls = tls
        self.out_dir = out_dir
        self.stamp = args.stamp
        self.receivers = Receivers(tls, free_port(), args.receiver_workers, hang_seconds=30)
        self.session: aiohttp.ClientSession | None = None
        self.log: list[str] = []

    def say(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        self.log.append(line)
        print(line, flush=True)

    async def __aenter__(self) -> Bench:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        await self.receivers.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.receivers.stop()
        if self.session is not None:
            await self.session.close()

    def run(
        self,
        backend: str,
        paths: list[str],
        extra_env: dict[str, str] | None = None,
        start: bool = True,
        quota: bool = False,
    ) -> contextlib.AbstractAsyncContextManager[Run]:
        """hookline on a fresh database; the throughput scenarios publish as fast as one
        tenant can, so the publishing quota is off unless ``quota`` (noisy neighbour)."""
        assert self.session is not None
        env = {} if quota else dict(NO_QUOTA)
        return hookline_run(
            self.session,
            backend,
            self.tls,
            self.workdir,
            self.receivers.port,
            paths,
            {**env, **(extra_env or {})},
            start,
            keep=self.args.keep,
        )

    def monitor(self, run: Run | None = None, **extra: list[int]) -> Monitor:
        groups: dict[str, list[int]] = {"receivers": self.receivers.pids, "bench": [os.getpid()]}
        database = None
        if run is not None:
            groups["hookline"] = [run.hookline.pid, *(w.pid for w in run.workers)]
            if run.database.backend == "postgres":
                database = run.database.name
                groups["postgres"] = postgres_pids(database)
        groups.update(extra)
        return Monitor(groups, postgres_database=database).start()

    @property
    def profiling(self) -> bool:
        return bool(self.args.profile or self.args.profile_table)

    async def profiler(self, run: Run, name: str) -> Profiler | None:
        """py-spy recording the hookline process, if --profile or --profile-table: once
        it has attached (so that the timed window is all recorded)."""
        if not self.profiling:
            return None
        spy = VENV_BIN / "py-spy"
        if not spy.exists():
            self.say("py-spy not found; no profile")
            return None
        raw = self.args.profile_table or self.args.profile_format == "raw"
        suffix = "txt" if raw else "svg"
        out = self.out_dir / f"{self.stamp}-{name}.{suffix}"
        for again in range(2, 1000):  # --repeat: each round's recording kept
            if not out.exists():
                break
            out = self.out_dir / f"{self.stamp}-{name}-{again}.{suffix}"
        self.say(f"profiling hookline into {out}")
        log = self.workdir / f"py-spy-{out.stem}.log"
        command = [
            str(spy),
            "record",
            "--pid",
            str(run.hookline.pid),
            "--rate",
            f"{self.args.profile_rate:g}",
            "--nonblocking",  # hookline is not paused for each sample
            "--format",
            "raw" if raw else "flamegraph",
            "-o",
            str(out),
        ]
        if raw:
            command.insert(2, "--threads")  # each stack under its thread: the table needs it
        with open(log, "wb") as said:  # py-spy says "Sampling process…" on stdout
            proc = subprocess.Popen(command, stdout=said, stderr=said)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if b"Sampling process" in log.read_bytes():
                break
            await asyncio.sleep(0.05)
        else:
            self.say(f"py-spy did not start sampling: see {log}")
        return Profiler(proc, out, raw)

    @staticmethod
    async def stop_profiler(spy: Profiler | None) -> None:
        if spy is None:
            return
        spy.proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(spy.proc.wait, 60)

    def thread_watch(self, run: Run) -> ThreadWatch | None:
        """The CPU time and GIL waits of each of hookline serve's threads, for the profile
        table (--profile-table)."""
        if not self.args.profile_table:
            return None
        return ThreadWatch(run.hookline.pid, rate=self.args.profile_rate).start()

    def profile_table(
        self, spy: Profiler | None, watched: dict[str, Any] | None, deliveries: int
    ) -> dict[str, Any] | None:
        if spy is None or watched is None or not spy.raw:
            return None
        if not spy.out.exists():
            return {"error": f"py-spy wrote no recording ({spy.out})"}
        try:
            profile_summary.write_sidecar(spy.out, watched, deliveries)
            return profile_summary.table(spy.out, watched, deliveries)
        except Exception as error:  # a profile must not cost the run its figures
            traceback.print_exc()
            return {"error": f"{type(error).__name__}: {error}"}

    async def warm(self, run: Run, receipts: int) -> None:
        """One event to every webhook, so connections are open before timing."""
        await self.receivers.reset()
        await run.api.publish(1)
        await self.receivers.wait_for(receipts, 30, kinds=("ok", "spare"))
        await asyncio.sleep(0.2)
        await self.receivers.reset()


@dataclass
class Profiler:
    proc: subprocess.Popen[bytes]
    out: Path
    raw: bool


def cpu_figures(usage: dict[str, Any], deliveries: int) -> dict[str, Any]:
    """hookline's CPU per delivery over a monitored window (all its processes), and the
    PostgreSQL server's when it was watched; ``deliveries``: every request the receivers
    got in the window, whatever its class."""
    out: dict[str, Any] = {"deliveries_made": deliveries}
    for group, key in (
        ("hookline", "cpu_per_delivery_us"),
        ("postgres", "postgres_cpu_per_delivery_us"),
    ):
        seconds = usage.get(f"{group}_cpu_seconds")
        if seconds is not None and deliveries:
            out[key] = round(1e6 * seconds / deliveries, 1)
    return out


def hooks(kind: str, count: int, start: int = 0) -> list[str]:
    return [f"/{kind}/{n}" for n in range(start, start + count)]


def _rate(count: int, first: float, last: float) -> float | None:
    return count / (last - first) if last > first else None


async def measure_throughput(
    bench: Bench, run: Run, events: int, healthy: int, name: str, kinds: tuple[str, ...] = ("ok",)
) -> dict[str, Any]:
    """Publish ``events`` (lists of 100, two requests in flight) and wait until each has
    reached the ``healthy`` webhooks; deliveries/s from the first publish to the last receipt."""
    await bench.warm(run, healthy)
    expected = events * healthy
    spy = await bench.profiler(run, name)
    threads = bench.thread_watch(run)
    monitor = bench.monitor(run)
    published = await publish_all(run.api, events, per_request=100, in_flight=2)
    complete = await bench.receivers.wait_for(expected, max(120.0, expected / 100), kinds)
    usage = monitor.stop()
    watched = threads.stop() if threads is not None else None
    await bench.stop_profiler(spy)
    stats = await bench.receivers.stats(lags=True)
    made = sum(v["count"] for v in stats["classes"].values())
    got = {k: v for k, v in stats["classes"].items() if k in kinds}
    count = sum(v["count"] for v in got.values())
    last = max((v["last"] for v in got.values()), default=0.0)
    lags = [lag for v in got.values() for lag in v["lags_ms"]]
    result = {
        "events": events,
        "webhooks": healthy,
        "deliveries": count,
        "expected": expected,
        "complete": complete,
        "seconds": round(last - published["first"], 3),
        "per_second": _rate(count, published["first"], last),
        "publish_seconds": round(published["last"] - published["first"], 3),
        "publish_request_p50_ms": published["request_p50_ms"],
        "lag": lag_summary(lags),
        "signatures_checked": stats["checked"],
        "bad_signatures": stats["bad_signatures"],
        "receiver_split": stats["per_worker"],
        "usage": usage,
        **cpu_figures(usage, made),
    }
    profile = bench.profile_table(spy, watched, made)
    if profile is not None:
        result["profile"] = profile
    hang = stats["classes"].get("hang")
    if hang:
        result["hanging_requests_received"] = hang["count"]
    return result


# 1. raw ceiling ---------------------------------------------------------------------------


async def raw_once(bench: Bench, receivers: Receivers, count: int) -> dict[str, Any]:
    await receivers.reset()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.raw",
        "--url",
        webhook_url(receivers.port, "/ok/raw"),
        "--ca",
        str(bench.tls.ca),
        "--count",
        str(count),
        "--concurrency",
        "64",
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    if line.strip() != b"go":
        raise RuntimeError(f"the raw client failed: {line!r}")
    monitor = Monitor({"receivers": receivers.pids}).start()
    out = await proc.stdout.readline()
    usage = monitor.stop()
    await proc.wait()
    result = json.loads(out)
    usage["client_cpu_pct"] = result["client_cpu_pct"]  # it has exited: its own figure
    usage["unaccounted_cpu_pct"] = round(usage["unaccounted_cpu_pct"] - usage["client_cpu_pct"], 1)
    stats = await receivers.stats()
    result["received"] = stats["classes"].get("ok", {}).get("count", 0)
    result["receiver_split"] = stats["per_worker"]
    result["usage"] = usage
    # The bare client's CPU per request: what a delivery costs with nothing around it.
    result["cpu_per_request_us"] = round(1e6 * result["client_cpu_seconds"] / result["count"], 1)
    return result


async def bare_client(bench: Bench) -> dict[str, Any]:
    """The bare client alone (the raw ceiling's client, once, no sweep): the CPU per
    request the throughput scenarios' CPU per delivery is compared with, when the raw
    scenario is not part of the run."""
    got = await raw_once(bench, bench.receivers, bench.scale.raw_count)
    bench.say(
        f"bare client (for CPU per delivery): {got['cpu_per_request_us']:.0f} µs of CPU per "
        f"request, {got['per_second']:.0f}/s"
    )
    return got


async def scenario_raw(bench: Bench) -> dict[str, Any]:
    count = bench.scale.raw_count
    main = await raw_once(bench, bench.receivers, count)
    bench.say(
        f"raw ceiling: {main['per_second']:.0f}/s with {bench.receivers.workers} receiver "
        f"process(es); receivers {main['usage']['receivers_cpu_pct']}% CPU, client "
        f"{main['usage']['client_cpu_pct']}% ({main['cpu_per_request_us']:.0f} µs a request)"
    )
    out: dict[str, Any] = {
        "per_second": main["per_second"],
        "cpu_per_request_us": main["cpu_per_request_us"],
        "receiver_workers": bench.receivers.workers,
        "runs": {str(bench.receivers.workers): main},
    }
    sweep = [w for w in bench.args.receiver_sweep if w != bench.receivers.workers]
    if getattr(bench, "swept", False):
        sweep = []  # once per run is enough
    bench.swept = True
    swept: dict[str, Any] = getattr(bench, "sweep_results", {})
    for workers in sweep:
        other = Receivers(bench.tls, free_port(), workers, hang_seconds=30)
        await other.start()
        try:
            got = await raw_once(bench, other, count)
        finally:
            await other.stop()
        swept[str(workers)] = got
        bench.say(f"raw ceiling with {workers} receiver process(es): {got['per_second']:.0f}/s")
    bench.sweep_results = swept
    out["runs"].update(swept)
    return out


# 2. Celery --------------------------------------------------------------------------------


async def scenario_celery(bench: Bench) -> dict[str, Any]:
    broker = bench.args.redis_url
    try:
        import redis

        client = redis.Redis.from_url(broker, socket_connect_timeout=2)
        client.ping()
        redis_version = client.info().get("redis_version")
    except Exception as error:
        bench.say(f"Celery baseline skipped: no Redis at {broker} ({error})")
        return {"skipped": f"no Redis at {broker}: {error}"}
    queue = f"hookline-bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update(
        BENCH_BROKER=broker,
        BENCH_QUEUE=queue,
        BENCH_CA=str(bench.tls.ca),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    concurrency = bench.args.celery_concurrency
    log_path = bench.workdir / "celery.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "bench.celery_app",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
                "-n",
                f"bench-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                queue,
            ],
            env=env,
            stdout=log,
            stderr=log,
            cwd=bench.workdir,
        )
    url = webhook_url(bench.receivers.port, "/ok/celery")

    async def produce(count: int, monitor: Monitor | None = None) -> dict[str, Any]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.celery_app",
            "produce",
            str(count),
            url,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        if monitor is not None:
            monitor.add("producer", proc.pid)
        out, _ = await proc.communicate()
        return dict(json.loads(out))

    try:
        deadline = time.monotonic() + 60
        while " ready." not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start; see {log_path}")
            await asyncio.sleep(0.1)
        import psutil

        pids = [worker.pid, *(c.pid for c in psutil.Process(worker.pid).children(recursive=True))]
        redis_pids = [
            p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"
        ]
        await bench.receivers.reset()
        await produce(concurrency * 4)  # warm up every process's session
        await bench.receivers.wait_for(concurrency * 4, 60)
        await bench.receivers.reset()
        count = bench.scale.celery_count
        monitor = bench.monitor(celery=pids, redis=redis_pids)
        produced_task = asyncio.create_task(produce(count, monitor))
        complete = await bench.receivers.wait_for(count, max(120.0, count / 50))
        produced = await produced_task
        usage = monitor.stop()
        # The producer has exited: it reports its own CPU time.
        usage["producer_cpu_pct"] = round(100 * produced["cpu_seconds"] / usage["seconds"], 1)
        usage["unaccounted_cpu_pct"] = round(
            usage["unaccounted_cpu_pct"] - usage["producer_cpu_pct"], 1
        )
        stats = await bench.receivers.stats(lags=True)
        ok = stats["classes"].get("ok", {"count": 0, "last": 0.0, "lags_ms": []})
        result = {
            "pool": "prefork",
            "concurrency": concurrency,
            "broker": f"Redis {redis_version}",
            "tasks": count,
            "deliveries": ok["count"],
            "complete": complete,
            "seconds": round(ok["last"] - produced["first"], 3),
            "per_second": _rate(ok["count"], produced["first"], ok["last"]),
            "enqueue_seconds": round(produced["last"] - produced["first"], 3),
            "lag": lag_summary(ok["lags_ms"]),
            "bad_signatures": stats["bad_signatures"],
            "usage": usage,
        }
        bench.say(
            f"Celery (prefork x{concurrency}): {result['per_second']:.0f}/s, enqueueing took "
            f"{result['enqueue_seconds']} s"
        )
        return result
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(worker.wait, 30)
        except subprocess.TimeoutExpired:
            worker.kill()
        with contextlib.suppress(Exception):  # the queue and kombu's bindings of it
            client.delete(queue, *client.keys(f"*{queue}*"), "_kombu.binding_deadlines")


# 3. end to end ----------------------------------------------------------------------------


async def scenario_e2e(bench: Bench, backend: str) -> dict[str, Any]:
    extra = bench.args.extra_workers
    async with bench.run(backend, hooks("ok", 10)) as run:
        await run.start_workers(extra)
        result = await measure_throughput(bench, run, bench.scale.e2e_events, 10, f"e2e-{backend}")
        result["errors_logged"] = run.errors_logged()
        result["processes"] = 1 + extra
    bench.say(
        f"hookline {backend}: {result['per_second']:.0f} deliveries/s, lag p50 "
        f"{result['lag']['p50_ms']:.0f} ms p99 {result['lag']['p99_ms']:.0f} ms, hookline "
        f"{result['usage']['hookline_cpu_pct']}% CPU, "
        f"{result.get('cpu_per_delivery_us', 0):.0f} µs a delivery"
    )
    return result


# 4. fixed rate ----------------------------------------------------------------------------


async def offer(
    bench: Bench,
    run: Run,
    requests_per_second: float,
    per_request: int,
    seconds: float,
    reached: int,
) -> dict[str, Any]:
    """Publish ``per_request`` events ``requests_per_second`` times a second for
    ``seconds``, each request on schedule whether or not the last was answered; wait for
    the ``reached`` healthy webhooks to get them all; lag of those receipts."""
    await bench.receivers.reset()
    monitor = bench.monitor(run)
    total_requests = round(seconds * requests_per_second)
    tasks = []
    start = time.monotonic() + 0.05
    for number in range(total_requests):
        delay = start + number / requests_per_second - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(run.api.publish(per_request)))
    durations = sorted(await asyncio.gather(*tasks))
    expected = total_requests * per_request * reached
    complete = await bench.receivers.wait_for(expected, max(60.0, expected / 100))
    usage = monitor.stop()
    stats = await bench.receivers.stats(lags=True)
    ok = stats["classes"].get("ok", {"count": 0, "lags_ms": []})
    return {
        "offered_per_second": round(requests_per_second * per_request * reached),
        "seconds": seconds,
        "shape": f"{requests_per_second:g} requests/s of {per_request} events",
        "deliveries": ok["count"],
        "expected": expected,
        "complete": complete,
        "lag": lag_summary(ok["lags_ms"]),
        "publish_request_p50_ms": durations[len(durations) // 2] * 1000,
        "publish_request_max_ms": durations[-1] * 1000,
        "usage": usage,
        **cpu_figures(usage, sum(v["count"] for v in stats["classes"].values())),
    }


async def scenario_rate(bench: Bench, backend: str) -> dict[str, Any]:
    scale = bench.scale
    webhooks = 10
    per_request = 10
    requests_per_second = scale.rate_per_second / webhooks / per_request
    async with bench.run(backend, hooks("ok", webhooks)) as run:
        await bench.warm(run, webhooks)
        result = await offer(
            bench, run, requests_per_second, per_request, scale.rate_seconds, webhooks
        )
        result["shape"] += f" to {webhooks} webhooks"
        result["errors_logged"] = run.hookline.errors_logged()
    lag = result["lag"]
    bench.say(
        f"fixed rate {backend}: p50 {lag['p50_ms']:.1f} ms p99 {lag['p99_ms']:.1f} ms "
        f"max {lag['max_ms']:.1f} ms (hookline {result['usage']['hookline_cpu_pct']}% CPU)"
    )
    return result


# 5. fan-out -------------------------------------------------------------------------------


async def scenario_fanout(bench: Bench, backend: str) -> dict[str, Any]:
    webhooks = 100
    times: list[float] = []
    async with bench.run(backend, hooks("ok", webhooks)) as run:
        # The first event opens the 100 connections: timed apart, as "cold".
        await bench.receivers.reset()
        cold = await _fan_once(bench, run, webhooks)
        monitor = bench.monitor(run)  # the warm reps, their pauses included
        for _ in range(bench.scale.fanout_reps):
            await asyncio.sleep(0.3)
            times.append(await _fan_once(bench, run, webhooks))
        usage = monitor.stop()
    result = {
        "webhooks": webhooks,
        "reps": len(times),
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "each_ms": [round(t, 1) for t in times],
        "cold_ms": cold,
        "usage": usage,
        **cpu_figures(usage, webhooks * len(times)),
    }
    bench.say(
        f"fan-out {backend}: median {result['median_ms']:.1f} ms to the last of 100 "
        f"(each {result['each_ms']}, cold {cold:.0f} ms)"
    )
    return result


async def _fan_once(bench: Bench, run: Run, webhooks: int) -> float:
    await bench.receivers.reset()
    await run.api.publish(1)
    if not await bench.receivers.wait_for(webhooks, 30):
        raise RuntimeError("fan-out: not every webhook got the event")
    stats = await bench.receivers.stats(lags=True)
    return float(max(stats["classes"]["ok"]["lags_ms"]))


# 6. isolation -----------------------------------------------------------------------------


async def scenario_isolation(bench: Bench, backend: str) -> dict[str, Any]:
    """20 webhooks; in the second run 2 of them (10%) hang past hookline's request timeout."""
    events = bench.scale.isolation_events
    out: dict[str, Any] = {"webhooks": 20, "hanging": 2, "events": events}
    for label, odd in (("all_healthy", "spare"), ("with_hanging", "hang")):
        async with bench.run(backend, hooks("ok", 18) + hooks(odd, 2, 18)) as run:
            result = await measure_throughput(
                bench, run, events, 18, f"isolation-{label}-{backend}"
            )
            # Then below saturation, where lag is not queueing: 30 events/s to the 20
            # webhooks, 540 deliveries/s to the healthy ones.
            result["fixed_rate"] = await offer(bench, run, 10, 3, bench.scale.rate_seconds / 2, 18)
            result["errors_logged"] = run.hookline.errors_logged()
            # Not waiting for the hanging attempts to time out before the next run.
            await run.hookline.stop(kill=True)
        out[label] = result
        bench.say(
            f"isolation {backend} {label}: healthy endpoints {result['per_second']:.0f}/s; "
            f"p99 {result['fixed_rate']['lag']['p99_ms']:.0f} ms at "
            f"{result['fixed_rate']['offered_per_second']}/s"
        )
    healthy, hanging = out["all_healthy"], out["with_hanging"]
    if healthy["per_second"] and hanging["per_second"]:
        out["throughput_kept"] = hanging["per_second"] / healthy["per_second"]
        out["p99_ratio_saturated"] = hanging["lag"]["p99_ms"] / healthy["lag"]["p99_ms"]
    low, high = healthy["fixed_rate"]["lag"]["p99_ms"], hanging["fixed_rate"]["lag"]["p99_ms"]
    if low and high:
        out["p99_ratio"] = high / low
    return out


# 7. backlog -------------------------------------------------------------------------------


async def _fill_backlog(database_url: str, deliveries: int, webhooks: int) -> float:
    """Publish ``deliveries / webhooks`` events with hookline's own publishing code
    (``hookline.embedded``, 1,000 events per transaction) while no worker runs."""
    from hookline.embedded import Hookline as Embedded

    events = deliveries // webhooks
    started = time.monotonic()
    unlimited = {"publish_events_per_second": 0, "publish_bytes_per_second": 0}
    async with Embedded.open(
        database_url=database_url, secret_key=SECRET_KEY, **unlimited
    ) as hooks_:
        done = 0
        while done < events:
            size = min(1000, events - done)
            sent_at = time.time()
            batch = [{"type": EVENT_TYPE, "data": {"pad": PAD, "sentAt": sent_at}}] * size
            await hooks_.publish("bench", batch)
            done += size
    return time.monotonic() - started


async def scenario_backlog(bench: Bench, backend: str) -> dict[str, Any]:
    target = bench.scale.backlog_for(backend)
    webhooks = 10
    receivers = bench.receivers
    result: dict[str, Any] = {"deliveries": target, "webhooks": webhooks}
    async with bench.run(backend, hooks("ok", webhooks), start=False) as run:
        bench.say(f"backlog {backend}: publishing {target:,} deliveries with no worker running")
        fill_seconds = await _fill_backlog(run.database.url, target, webhooks)
        result["fill_seconds"] = round(fill_seconds, 1)
        result["fill_per_second"] = target / fill_seconds
        bench.say(f"backlog {backend}: filled in {fill_seconds:.1f} s; receiver down, serving")
        hold = bench.scale.backlog_hold
        if hold > 0:  # (with no hold, as in --quick, the receiver stays up)
            await receivers.stop()
        else:
            await receivers.reset()
        try:
            await run.hookline.start()
            monitor = bench.monitor(run)
            await asyncio.sleep(hold)
            up_offset = hold
            if hold > 0:
                await receivers.start()  # (the monitor counts hookline, not these receivers)
            up = time.time()
            bench.say(f"backlog {backend}: receiver up, draining")
            progress: list[tuple[float, int]] = []
            deadline = time.monotonic() + bench.args.backlog_timeout
            count = 0
            while time.monotonic() < deadline:
                count = await receivers.count()
                progress.append((time.time() - up, count))
                if count >= target:
                    break
                await asyncio.sleep(0.5)
            usage = monitor.stop()
            stats = await receivers.stats()
        finally:
            if not receivers.pids:
                await receivers.start()
        series = monitor.rss_series("hookline")
        holding = [rss for at, rss in series if at < up_offset]
        draining = [rss for at, rss in series if at >= up_offset]
        ok = stats["classes"].get("ok", {"count": 0, "last": up})
        result.update(
            {
                "hold_seconds": hold,
                "received": ok["count"],
                "complete": ok["count"] >= target,
                "drain_seconds": round(ok["last"] - up, 1),
                "drain_per_second": _rate(ok["count"], up, ok["last"]),
                "drain_10_90_per_second": _between(progress, target, 0.1, 0.9),
                "peak_rss_mb": round(max(series, key=lambda s: s[1])[1] / 2**20, 1)
                if series
                else None,
                "peak_rss_holding_mb": round(max(holding) / 2**20, 1) if holding else None,
                "peak_rss_draining_mb": round(max(draining) / 2**20, 1) if draining else None,
                "rss_mb_every_10s": [
                    (round(at), round(rss / 2**20)) for at, rss in series[:: max(1, int(10 / 0.25))]
                ],
                "errors_logged": run.hookline.errors_logged(),
                "usage": usage,
            }
        )
    bench.say(
        f"backlog {backend}: drained {result['received']:,} at "
        f"{result['drain_per_second'] or 0:.0f}/s; peak RSS {result['peak_rss_mb']} MB "
        f"(holding {result['peak_rss_holding_mb']} MB)"
    )
    return result


def _between(
    progress: list[tuple[float, int]], target: int, low: float, high: float
) -> float | None:
    start = next((t for t, c in progress if c >= low * target), None)
    end = next((t for t, c in progress if c >= high * target), None)
    if start is None or end is None or end <= start:
        return None
    return (high - low) * target / (end - start)


# 8. history growth ------------------------------------------------------------------------


async def scenario_history(bench: Bench, backend: str) -> dict[str, Any]:
    """Throughput on a fresh database, then again after ``history_rows`` old deliveries
    were written into it (same webhooks, hookline restarted)."""
    rows = bench.scale.history_for(backend)
    events = bench.scale.history_events
    out: dict[str, Any] = {"history_rows": rows, "events": events}
    async with bench.run(backend, hooks("ok", 10)) as run:
        out["empty"] = await measure_throughput(bench, run, events, 10, f"history-empty-{backend}")
        bench.say(f"history {backend}, none: {out['empty']['per_second']:.0f}/s")
        await run.hookline.stop()
        bench.say(f"history {backend}: writing {rows:,} old deliveries")
        started = time.monotonic()
        await history.fill(
            backend, run.database.url, rows, webhook_url(bench.receivers.port, "/ok/0")
        )
        out["fill_seconds"] = round(time.monotonic() - started, 1)
        if backend == "sqlite":
            out["database_mb"] = round(Path(run.database.path).stat().st_size / 2**20)
        await restart(run)
        out["grown"] = await measure_throughput(bench, run, events, 10, f"history-grown-{backend}")
        out["errors_logged"] = run.hookline.errors_logged()
        bench.say(f"history {backend}, {rows:,} rows: {out['grown']['per_second']:.0f}/s")
    if out["empty"]["per_second"] and out["grown"]["per_second"]:
        out["throughput_kept"] = out["grown"]["per_second"] / out["empty"]["per_second"]
    return out


# 9. noisy neighbour -----------------------------------------------------------------------

NOISY_PUBLISHES = 10  # the victim's events a second, one a request
NOISY_LISTS = 4  # the victim's GET /api/v1/webhooks a second
NOISY_FLOOD_WEBHOOKS = 100  # the tenant cap
NOISY_EVENT_BYTES = 7_000  # the padding of each flood event
NOISY_LIST_TYPES = 990  # values in the list bomb's eventTypes
NOISY_LIST_PARALLEL = 6


async def scenario_noisy(bench: Bench, backend: str) -> dict[str, Any]:
    """The victim tenant (``bench``: one webhook, a tenant-admin key to list, a publisher
    key to publish) alone, then while two attacker tenants, each with its own tenant-admin
    and publisher keys, run the four abuses of bench/noisy.py. The first attacker tenant
    holds the flood's 100 webhooks (the tenant cap), the second the filter-bomb and the
    hanging webhooks."""
    scale = bench.scale
    seconds, drain = scale.noisy_seconds, scale.noisy_drain
    bomb_filter = noisy.filter_bomb()
    out: dict[str, Any] = {
        "seconds": seconds,
        "drain_seconds": drain,
        "victim": {
            "publishes_per_second": NOISY_PUBLISHES,
            "lists_per_second": NOISY_LISTS,
            "webhooks": 1,
        },
        "attack": {
            "tenants": 2,
            "filter_clauses": bomb_filter.count(" or ") + 1,
            "filter_chars": len(bomb_filter),
            "bomb_numbers": scale.noisy_bomb_numbers,
            "flood_webhooks": NOISY_FLOOD_WEBHOOKS,
            "flood_events": scale.noisy_flood_events,
            "flood_event_bytes": NOISY_EVENT_BYTES,
            "flood_deliveries_per_publish": scale.noisy_flood_events * NOISY_FLOOD_WEBHOOKS,
            "list_event_types": NOISY_LIST_TYPES,
            "list_parallel": NOISY_LIST_PARALLEL,
            "resends": scale.noisy_resends,
        },
    }
    port = bench.receivers.port
    async with bench.run(backend, ["/ok/victim"], quota=True) as run:
        hookline = run.hookline
        publisher = await asyncio.to_thread(
            hookline.cli, "key", "create", "--tenant", TENANT, "--role", "publisher"
        )
        keys: dict[str, str] = {}
        for number, tenant in enumerate(("attacker", "attacker-2")):
            await asyncio.to_thread(hookline.cli, "tenant", "create", tenant)
            for role, name in (("tenant-admin", "admin"), ("publisher", "publisher")):
                keys[f"{name}{'2' if number else ''}"] = await asyncio.to_thread(
                    hookline.cli, "key", "create", "--tenant", tenant, "--role", role
                )
        first = Api(run.api.session, hookline.url, keys["admin"])
        for number in range(NOISY_FLOOD_WEBHOOKS):
            await first.create_webhook(
                f"flood-{number}", webhook_url(port, f"/flood/{number}"), (noisy.FLOOD_TYPE,)
            )
        second = Api(run.api.session, hookline.url, keys["admin2"])
        await second.create_webhook(
            "filter-bomb", webhook_url(port, "/bomb/0"), (noisy.BOMB_TYPE,), bomb_filter
        )
        hanging = await second.create_webhook(
            "hanging", webhook_url(port, "/hang/0"), (noisy.HANG_TYPE,)
        )
        attacker = noisy.Attacker(
            {
                "url": hookline.url,
                **keys,
                "hang_webhook": hanging,
                "bomb_numbers": scale.noisy_bomb_numbers,
                "flood_events": scale.noisy_flood_events,
                "flood_event_bytes": NOISY_EVENT_BYTES,
                "list_event_types": NOISY_LIST_TYPES,
                "list_parallel": NOISY_LIST_PARALLEL,
                "resends": scale.noisy_resends,
            }
        )
        sizes = SizeWatch(run.database).start()
        try:
            await attacker.start(str(REPO))
            await bench.warm(run, 1)
            async with noisy.Victim(
                hookline.url, run.api.key, publisher, NOISY_PUBLISHES, NOISY_LISTS
            ) as victim:
                out["alone"] = await _noisy_phase(bench, run, victim, seconds, drain, None)
                out["alone"]["database_mb"] = round(await run.database.size() / 2**20, 1)
                _say_noisy(bench, backend, "alone", out["alone"])
                out["attacked"] = await _noisy_phase(bench, run, victim, seconds, drain, attacker)
                out["attacked"]["database_mb"] = round(await run.database.size() / 2**20, 1)
                _say_noisy(bench, backend, "attacked", out["attacked"])
        finally:
            await attacker.kill()
            peak = await sizes.stop()
        out["database_mb"] = out["attacked"]["database_mb"]
        out["database_peak_mb"] = round(peak / 2**20, 1)
        out["hookline_peak_rss_mb"] = max(
            out[phase]["usage"].get("hookline_peak_rss_mb", 0) for phase in ("alone", "attacked")
        )
        attacked = out["attacked"]["attacker"]["abuses"]
        out["five_xx_attacker"] = sum(a["five_xx"] for a in attacked.values())
        out["five_xx_anyone"] = out["five_xx_attacker"] + sum(
            out[phase]["five_xx"] for phase in ("alone", "attacked")
        )
        out["errors_logged"] = hookline.errors_logged()
        # Not waiting for the flood's backlog or the hanging attempts before the next run.
        await hookline.stop(kill=True)
    bench.say(
        f"noisy {backend}: database + WAL {out['database_mb']:,.0f} MB after (peak "
        f"{out['database_peak_mb']:,.0f} MB), hookline peak RSS {out['hookline_peak_rss_mb']} "
        f"MB, 5xx: {out['five_xx_anyone']}"
    )
    return out


async def _noisy_phase(
    bench: Bench,
    run: Run,
    victim: noisy.Victim,
    seconds: float,
    drain: float,
    attacker: noisy.Attacker | None,
) -> dict[str, Any]:
    """The victim's traffic for ``seconds`` (with the attacker's, if any, over the same
    time), then up to ``drain`` seconds for its accepted events to arrive."""
    await bench.receivers.reset()
    monitor = bench.monitor(run)
    if attacker is not None:
        await attacker.go()
    traffic = await victim.offer(seconds)
    attacked = await attacker.stop() if attacker is not None else None
    await traffic.finish()
    accepted = set(traffic.accepted)
    started = time.monotonic()
    while True:
        stats = await bench.receivers.stats(lags=True)
        receipts = stats["classes"].get("ok", {})
        if accepted <= set(receipts.get("seqs", ())) or time.monotonic() - started >= drain:
            break
        await asyncio.sleep(0.5)
    waited = time.monotonic() - started
    usage = monitor.stop()
    result = traffic.summary(receipts)
    result["drain_waited_seconds"] = round(waited, 1)
    if attacked is not None:  # the attacker has exited: its own CPU figure
        usage["attacker_cpu_pct"] = round(100 * attacked["cpu_seconds"] / usage["seconds"], 1)
        usage["unaccounted_cpu_pct"] = round(
            usage["unaccounted_cpu_pct"] - usage["attacker_cpu_pct"], 1
        )
        result["attacker"] = attacked
        result["attacker_receipts"] = {
            kind: tally["count"] for kind, tally in stats["classes"].items() if kind != "ok"
        }
    result["usage"] = usage
    return result


def _say_noisy(bench: Bench, backend: str, phase: str, got: dict[str, Any]) -> None:
    publish, listing, lag = got["publish"], got["list"], got["lag"]
    bench.say(
        f"noisy {backend} {phase}: publish p50/p99 {publish['p50_ms'] or 0:.0f}/"
        f"{publish['p99_ms'] or 0:.0f} ms, list p50/p99 {listing['p50_ms'] or 0:.0f}/"
        f"{listing['p99_ms'] or 0:.0f} ms, lag p99 {lag['p99_ms'] or 0:.0f} ms; "
        f"{got['errors']} errors, {got['lost']} of {got['accepted']} lost; hookline peak RSS "
        f"{got['usage'].get('hookline_peak_rss_mb')} MB"
    )
    if "attacker" in got:
        bench.say(
            f"noisy {backend} attacker: "
            + "; ".join(
                f"{name} {tally['requests']} requests {tally['statuses']}"
                + (f" failed {tally['failures']}" if tally["failures"] else "")
                for name, tally in got["attacker"]["abuses"].items()
            )
        )


# 10. the management API ------------------------------------------------------------------


async def scenario_api(bench: Bench, backend: str) -> dict[str, Any]:
    """CPU of ``hookline serve`` per management API request (a webhook, a page of 20), one
    request at a time on one keep-alive connection, against the same client's requests to
    a bare uvicorn and Starlette app answering the same webhook's JSON, in the same run."""
    count = bench.scale.api_requests
    # No rate limit: one key's requests as fast as hookline answers them.
    async with bench.run(backend, hooks("ok", 20), {"HOOKLINE_RATE_LIMIT": "0"}) as run:
        api = run.api
        one = f"{api.url}/api/v1/webhooks/{run.webhook_ids[0]}"
        page = f"{api.url}/api/v1/webhooks?limit=20"
        result = {
            "webhook": await _request_cost(bench, one, api.headers, count, run),
            "page": await _request_cost(bench, page, api.headers, count // 4, run),
        }
        assert bench.session is not None
        async with bench.session.get(one, headers=api.headers) as response:
            body = await response.read()
    result["bare"] = await _bare_api_cost(bench, body, count)
    bare_us = result["bare"]["cpu_per_request_us"]
    for name in ("webhook", "page"):
        result[name]["versus_bare"] = round(result[name]["cpu_per_request_us"] / bare_us, 2)
    bench.say(
        f"API {backend}: a webhook {result['webhook']['cpu_per_request_us']:.0f} µs of CPU a "
        f"request, a page of 20 {result['page']['cpu_per_request_us']:.0f} µs, the bare app "
        f"{bare_us:.0f} µs"
    )
    return result


async def _request_cost(
    bench: Bench, url: str, headers: dict[str, str], count: int, server: Run | int
) -> dict[str, Any]:
    """GET ``url`` ``count`` times, one at a time, after 50 unmeasured: the requests a
    second and the CPU a request of the server (a run's hookline and its PostgreSQL
    server, or the process with this pid)."""
    session = bench.session
    assert session is not None

    async def get() -> None:
        async with session.get(url, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {url}: {response.status}")

    for _ in range(50):  # the connection opened, the statements cached
        await get()
    # the pid's process is counted where hookline's would be
    monitor = bench.monitor(server) if isinstance(server, Run) else bench.monitor(hookline=[server])
    started = time.perf_counter()
    for _ in range(count):
        await get()
    seconds = time.perf_counter() - started
    usage = monitor.stop()
    out = {"requests": count, "per_second": round(count / seconds, 1), "usage": usage}
    for group, key in (
        ("hookline", "cpu_per_request_us"),
        ("postgres", "postgres_cpu_per_request_us"),
    ):
        if f"{group}_cpu_seconds" in usage:
            out[key] = round(1e6 * usage[f"{group}_cpu_seconds"] / count, 1)
    return out


async def _bare_api_cost(bench: Bench, body: bytes, count: int) -> dict[str, Any]:
    """``_request_cost`` of the bare app (bench/bare_api.py) answering ``body``."""
    body_file = bench.workdir / "bare-api-body.json"
    body_file.write_bytes(body)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_api", "--body", str(body_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = (await asyncio.to_thread(proc.stdout.readline)).split()[-1] + "/answer"
        await _until_answering(bench, url)
        return await _request_cost(bench, url, {}, count, proc.pid)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


async def _until_answering(bench: Bench, url: str) -> None:
    assert bench.session is not None
    deadline = time.monotonic() + 30
    while True:
        try:
            async with bench.session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


class SizeWatch:
    """The database's size on disk (``Database.size``) every second: the peak."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> SizeWatch:
        self._task = asyncio.create_task(self._watch())
        return self

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                self.peak = max(self.peak, await self.database.size())
            await asyncio.sleep(1)

    async def stop(self) -> int:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            self.peak = max(self.peak, await self.database.size())
        return self.peak
