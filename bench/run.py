"""hookline's benchmark suite: ``python -m bench`` (``make bench``). See docs/benchmarks.md.

python -m bench                       # every scenario at full scale (about an hour)
python -m bench --quick               # a smoke run of every scenario, under a minute
python -m bench --scenario e2e --scenario fanout --backends sqlite
python -m bench --scenario backlog --backlog 100000
python -m bench --scenario noisy --backends sqlite --noisy-seconds 20
python -m bench --scenario raw --scenario e2e --backends sqlite --profile-table
python -m bench --scenario workers --scenario claims --scenario purge   # scale-out, PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import report, scaling, scenarios
from bench.common import REPO, VENV_BIN, Tls, machine
from bench.procs import POSTGRES_ADMIN_URL, child_env, postgres_available
from bench.scaling import SCALE_SCENARIOS
from bench.scenarios import FULL, QUICK, SCENARIOS, Bench
from hookline.runtime import calm_collector

PER_BACKEND = {"e2e", "rate", "fanout", "isolation", "backlog", "history", "noisy", "api"}
REPEATABLE = {"raw", "celery", "e2e"}
# Scenarios whose CPU per delivery is set beside the bare client's CPU per request.
CPU_COMPARED = {"e2e", "rate", "fanout", "isolation", "history", "workers"}
# Figures of a repeated scenario reported as the median of its runs (beside the median run's).
MEDIAN_FIGURES = ("cpu_per_delivery_us", "postgres_cpu_per_delivery_us", "cpu_per_request_us")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="hookline's benchmark suite (docs/benchmarks.md)"
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS + SCALE_SCENARIOS,
        help="run only this scenario (repeat for several); default: all but the scale-out "
        "ones on PostgreSQL (workers, claims, purge), which run only when named",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (under a minute)")
    parser.add_argument(
        "--backends",
        default=None,
        help="comma list of sqlite, postgres (default: both; --quick: sqlite)",
    )
    parser.add_argument(
        "--backlog",
        type=_sizes,
        help="backlog in deliveries (full: 1,000,000); N, or per database: sqlite=N,postgres=M",
    )
    parser.add_argument(
        "--history",
        type=_sizes,
        help="rows of old history for scenario 8 (full: 5,000,000); N, or sqlite=N,postgres=M",
    )
    parser.add_argument("--events", type=int, help="events (to 10 webhooks) for scenario 3")
    parser.add_argument("--rate-seconds", type=float, help="duration of scenario 4 (full: 20)")
    parser.add_argument(
        "--noisy-seconds",
        type=float,
        help="scenario 9: seconds of each phase, the victim alone then attacked (full: 60)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the throughput scenarios (raw, celery, e2e) N times, interleaved, and "
        "report the median run and the spread",
    )
    parser.add_argument(
        "--extra-workers",
        type=int,
        default=0,
        help="PostgreSQL end-to-end runs: this many `hookline worker` processes beside "
        "`hookline serve` (their CPU counts as hookline's)",
    )
    parser.add_argument(
        "--worker-counts",
        help="scenario workers: comma list of `hookline worker` counts beside serve "
        "(full: 0,1,2,4)",
    )
    parser.add_argument(
        "--claim-history",
        type=_size,
        help="scenario claims: deliveries of history (full: 50,000,000)",
    )
    parser.add_argument("--claims", type=_size, help="scenario claims: timed claims (full: 2,000)")
    parser.add_argument(
        "--purge-day",
        type=_size,
        help="scenario purge: deliveries in the day purged (full: 5,000,000)",
    )
    parser.add_argument(
        "--purge-tablespace",
        help="scenario purge: make its database in this PostgreSQL tablespace (e.g. one on a "
        "file system without synchronous discard; docs/benchmarks.md)",
    )
    parser.add_argument(
        "--keep-scale-db",
        action="store_true",
        help="scenario claims: keep the database with the history (hookline_bench_scale); "
        "a later run uses it again, and resumes its load if it was stopped",
    )
    parser.add_argument("--receiver-workers", type=int, default=2, help="receiver processes")
    parser.add_argument(
        "--receiver-sweep",
        default=None,
        help="comma list of receiver process counts the raw ceiling is also measured with "
        "(default: 1,2,3; --quick: none)",
    )
    parser.add_argument("--celery-concurrency", type=int, default=4, help="prefork processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--backlog-timeout", type=float, default=3600, help="seconds")
    parser.add_argument(
        "--reuse",
        type=Path,
        action="append",
        default=[],
        help="a result file of an earlier run (repeatable, later files win): the scenarios, "
        "or databases of a scenario, this run did not measure are copied into its results "
        "and tables, marked with that run's stamp (for the long backlog and history runs)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        help="run nothing: write the tables, the chart (and with --docs the docs) from this "
        "result file, merged with the --reuse files",
    )
    parser.add_argument(
        "--profile", action="store_true", help="record hookline with py-spy in each throughput run"
    )
    parser.add_argument(
        "--profile-table",
        action="store_true",
        help="record hookline with py-spy (collapsed stacks, per thread) in each throughput "
        "run and measure each thread's CPU time and GIL waits: the report gets a table of "
        "microseconds of CPU per delivery by part of the engine (bench/profile_summary.py)",
    )
    parser.add_argument(
        "--profile-rate",
        type=float,
        default=100,
        help="py-spy samples a second (and /proc samples of the threads' states), default 100",
    )
    parser.add_argument(
        "--profile-format",
        choices=("flamegraph", "raw"),
        default="flamegraph",
        help="py-spy output: an SVG flame graph, or collapsed stacks (text)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (databases, hookline logs)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite docs/benchmarks.md's results and docs/benchmarks.png "
        "(default: only for a full run of every scenario)",
    )
    args = parser.parse_args(argv)
    if args.backends is None:
        args.backends = "sqlite" if args.quick else "sqlite,postgres"
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in args.backends:
        if backend not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {backend!r}")
    if args.receiver_sweep is None:
        args.receiver_sweep = "" if args.quick else "1,2,3"
    args.receiver_sweep = [int(x) for x in args.receiver_sweep.split(",") if x.strip()]
    args.stamp = time.strftime("%Y%m%d-%H%M%S")
    return args


def _size(text: str) -> int:
    return int(text.replace("_", "").replace(",", ""))


def _sizes(text: str) -> dict[str, int]:
    """``N`` (every database) or ``sqlite=N,postgres=M``."""
    if "=" not in text:
        return {"sqlite": int(text.replace("_", "")), "postgres": int(text.replace("_", ""))}
    sizes = {}
    for item in text.split(","):
        backend, _, number = item.partition("=")
        if backend.strip() not in ("sqlite", "postgres"):
            raise argparse.ArgumentTypeError(f"unknown database {backend!r}")
        sizes[backend.strip()] = int(number.replace("_", ""))
    return sizes


def scale_of(args: argparse.Namespace) -> tuple[scenarios.Scale, bool]:
    scale = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.backlog is not None:
        changes["backlog_by_backend"] = args.backlog
    if args.history is not None:
        changes["history_by_backend"] = args.history
    if args.events is not None:
        changes["e2e_events"] = args.events
        changes["history_events"] = args.events
    if args.rate_seconds is not None:
        changes["rate_seconds"] = args.rate_seconds
    if args.noisy_seconds is not None:
        changes["noisy_seconds"] = args.noisy_seconds
    if args.worker_counts is not None:
        changes["worker_counts"] = tuple(int(n) for n in args.worker_counts.split(","))
    for name, option in (
        ("claim_history", "claim_history"),
        ("claims", "claims"),
        ("purge_rows", "purge_day"),
    ):
        if getattr(args, option) is not None:
            changes[name] = getattr(args, option)
    scale = dataclasses.replace(scale, **changes)
    full = all(
        getattr(scale, name) >= getattr(FULL, name)
        for name in (
            "raw_count",
            "e2e_events",
            "rate_seconds",
            "backlog",
            "history_rows",
            "noisy_seconds",
        )
    ) and all(
        size >= limit
        for sizes, limit in (
            (scale.backlog_by_backend, FULL.backlog),
            (scale.history_by_backend, FULL.history_rows),
        )
        for size in sizes.values()
    )
    return scale, full


async def _versions(args: argparse.Namespace, backends: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {"postgres": None, "redis": None}
    if "postgres" in backends:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            found["postgres"] = "PostgreSQL " + str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
    try:
        import redis

        info = redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).info()
        found["redis"] = f"Redis {info.get('redis_version')}"
    except Exception:
        found["redis"] = None
    return found


async def main_async(args: argparse.Namespace) -> int:
    scale, full_scale = scale_of(args)
    chosen = args.scenario or list(SCENARIOS)
    backends = list(args.backends)
    notes: list[str] = []
    if "postgres" in backends:
        missing = await postgres_available()
        if missing:
            notes.append(f"PostgreSQL skipped: {missing}")
            print(notes[-1], flush=True)
            backends.remove("postgres")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict[str, Any] = {
        "stamp": args.stamp,
        "command": "python -m bench " + shlex.join(sys.argv[1:])
        if sys.argv[1:]
        else "python -m bench",
        "quick": args.quick,
        "full_scale": full_scale and set(chosen) == set(SCENARIOS),
        "full_scale_run": full_scale,
        "scale": dataclasses.asdict(scale),
        "scenarios_run": chosen,
        "backends": backends,
        "settings": {
            "receiver_workers": args.receiver_workers,
            "celery_concurrency": args.celery_concurrency,
            "extra_workers": args.extra_workers,
            "hookline": "defaults, but HOOKLINE_RESOLVE, HOOKLINE_ALLOW_NETWORKS, "
            "HOOKLINE_CA_BUNDLE, HOOKLINE_SECRET_KEY and HOOKLINE_PORT=0",
        },
        "machine": machine(),
        "notes": notes,
        "scenarios": {},
    }
    on_postgres = [*backends, "postgres"] if set(chosen) & set(SCALE_SCENARIOS) else backends
    results["machine"].update(await _versions(args, on_postgres))
    results["machine"]["hookline_source"] = _hookline_source()
    workdir = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    json_path = args.out / f"{args.stamp}.json"
    try:
        tls = Tls.create(workdir)
        async with Bench(args, scale, workdir, tls, args.out) as bench:
            bench.say(
                f"hookline benchmark {args.stamp}: {', '.join(chosen)} on {', '.join(backends)}"
                f"{' (quick)' if args.quick else ''}; receivers on port {bench.receivers.port}"
            )
            if "raw" not in chosen and CPU_COMPARED & set(chosen):
                got = await _guarded(bench, "bare client", scenarios.bare_client(bench))
                results["bare_client_reference"] = got
            repeated = [n for n in chosen if n in REPEATABLE] if args.repeat > 1 else []
            # The repeated scenarios first, round after round, then the others once.
            order = [(r, n) for r in range(args.repeat) for n in repeated] + [
                (0, n) for n in chosen if n not in repeated
            ]
            runs: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
            for round_number, name in order:
                module = scaling if name in SCALE_SCENARIOS else scenarios
                run = getattr(module, f"scenario_{name}")
                for backend in backends if name in PER_BACKEND else [None]:
                    label = f"{name} {backend}" if backend else name
                    if name in repeated:
                        bench.say(f"{label}: round {round_number + 1} of {args.repeat}")
                    work = run(bench, backend) if backend else run(bench)
                    got = await _guarded(bench, label, work)
                    runs.setdefault((name, backend), []).append(got)
                    chosen_run = _median_run(runs[(name, backend)])
                    if backend:
                        results["scenarios"].setdefault(name, {})[backend] = chosen_run
                    else:
                        results["scenarios"][name] = chosen_run
                    report.compare_cpu(results)
                    _write_json(json_path, results, started)
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for path in args.reuse:
        _reuse(results, path, chosen)
    results["noise"] = _noise(results)
    report.compare_cpu(results)
    _write_json(json_path, results, started)
    _outputs(args, results, args.out, args.stamp)
    print(
        f"results: {json_path.relative_to(REPO) if json_path.is_relative_to(REPO) else json_path}"
    )
    return 0


def _reuse(results: dict[str, Any], path: Path, measured: list[str]) -> None:
    """Copy what this run did not measure from an earlier result file: whole scenarios,
    or the databases of a per-database scenario; a later file replaces an earlier one."""
    earlier = json.loads(path.read_text())
    stamp = earlier["stamp"]
    copied = []
    for name, data in earlier.get("scenarios", {}).items():
        if name in measured or not isinstance(data, dict):
            continue
        if name in PER_BACKEND:
            into = results["scenarios"].setdefault(name, {})
            for backend, value in data.items():
                if isinstance(value, dict) and "from_run" not in value:
                    into[backend] = {**value, "from_run": stamp}
                    copied.append(f"{name} ({backend})")
        elif "from_run" not in data:
            results["scenarios"][name] = {**data, "from_run": stamp}
            copied.append(name)
    if copied:
        if not isinstance(results.get("reused"), list):
            results["reused"] = []
        results["reused"].append({"from": stamp, "scenarios": copied})
        by_run: dict[str, list[str]] = {}
        for name, data in results["scenarios"].items():
            entries = data.items() if name in PER_BACKEND else [(None, data)]
            for backend, value in entries:
                if isinstance(value, dict) and "from_run" in value:
                    label = f"{name} ({backend})" if backend else name
                    by_run.setdefault(value["from_run"], []).append(label)
        results["notes"] = [n for n in results["notes"] if "(--reuse)" not in n] + [
            f"{', '.join(names)}: from the run of {run} (--reuse), same machine"
            for run, names in sorted(by_run.items())
        ]
        merged = set(results["scenarios"])
        sizes_full = all(
            value.get(key, 0) >= limit
            for name, key, limit in (
                ("backlog", "deliveries", FULL.backlog),
                ("history", "history_rows", FULL.history_rows),
            )
            for value in results["scenarios"].get(name, {}).values()
            if isinstance(value, dict)
        )
        results["full_scale"] = (
            results.get("full_scale_run", False) and merged >= set(SCENARIOS) and sizes_full
        )


def _render(args: argparse.Namespace) -> int:
    """Tables, chart and docs from a result file (and --reuse files), running nothing."""
    results = json.loads(args.render.read_text())
    # What this file had copied from others is dropped: the --reuse files say it again.
    for name in list(results["scenarios"]):
        data = results["scenarios"][name]
        if name in PER_BACKEND and isinstance(data, dict):
            kept = {b: v for b, v in data.items() if not (isinstance(v, dict) and "from_run" in v)}
            if kept:
                results["scenarios"][name] = kept
            else:
                del results["scenarios"][name]
        elif isinstance(data, dict) and "from_run" in data:
            del results["scenarios"][name]
    results["reused"] = []
    results["notes"] = [n for n in results.get("notes", []) if "(--reuse)" not in n]
    for path in args.reuse:
        _reuse(results, path, results["scenarios_run"])
    results["noise"] = _noise(results)
    report.compare_cpu(results)
    results["rendered_with"] = "python -m bench " + shlex.join(sys.argv[1:])
    args.render.write_text(json.dumps(results, indent=1, default=str))
    _outputs(args, results, args.render.parent, results["stamp"])
    return 0


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median deliveries/s, with every run's figure beside it; the CPU
    figures (per delivery, per request) as the median of the runs' own, under
    ``<figure>_median``, with each run's under ``repeats_<figure>``."""
    measured = [r for r in runs if r.get("per_second")]
    if len(runs) == 1 or not measured:
        return runs[-1]
    ordered = sorted(measured, key=lambda r: r["per_second"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["repeats_per_second"] = [round(r["per_second"], 1) for r in measured]
    for key in MEDIAN_FIGURES:
        values = [r[key] for r in measured if r.get(key) is not None]
        if values:
            median[f"repeats_{key}"] = values
            median[f"{key}_median"] = round(statistics.median(values), 1)
    return median


def _hookline_source() -> str | None:
    """Where the ``hookline serve`` the suite starts imports hookline from."""
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-c", "import hookline; print(hookline.__file__)"],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def _outputs(args: argparse.Namespace, results: dict[str, Any], out: Path, stamp: str) -> None:
    docs = args.docs if args.docs is not None else results["full_scale"]
    md_path = out / f"{stamp}.md"
    chart_path = out / f"{stamp}.png"
    report.chart(results, chart_path)
    table = report.markdown(results, chart_path.name if chart_path.exists() else None)
    md_path.write_text(table)
    (out / "latest.md").write_text(table)
    if chart_path.exists():
        shutil.copyfile(chart_path, out / "latest.png")
    if docs:
        report.chart(results, report.CHART)
        report.update_doc(report.markdown(results, "benchmarks.png"))
        print(f"updated {report.DOC.relative_to(REPO)} and {report.CHART.relative_to(REPO)}")
    print()
    print(table)


def _noise(results: dict[str, Any]) -> str:
    """How busy the machine was with work that was not the benchmark's."""
    seen = []
    for name, data in results["scenarios"].items():
        for key, value in data.items() if isinstance(data, dict) else []:
            if isinstance(value, dict) and "usage" in value:
                seen.append((f"{name} {key}", value["usage"].get("unaccounted_cpu_pct")))
        if isinstance(data, dict) and "usage" in data:
            seen.append((name, data["usage"].get("unaccounted_cpu_pct")))
    seen = [(n, v) for n, v in seen if v is not None]
    if not seen:
        return ""
    worst = max(seen, key=lambda item: item[1])
    average = sum(v for _, v in seen) / len(seen)
    return (
        f"CPU used by processes outside the benchmark (other work on the machine, and "
        f"PostgreSQL's server when it is not the one measured), in % of one core: average "
        f"{average:.0f}%, worst {worst[1]:.0f}% ({worst[0]}); 200% is both cores."
    )


async def _guarded(bench: Bench, name: str, work: Any) -> dict[str, Any]:
    try:
        return dict(await work)
    except Exception as error:
        bench.say(f"{name} failed: {error}")
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}"}


def _write_json(path: Path, results: dict[str, Any], started: float) -> None:
    results["elapsed_seconds"] = round(time.time() - started, 1)
    path.write_text(json.dumps(results, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.render is not None:
        return _render(args)
    calm_collector()  # the harness's own GC pauses would count as hookline's lag
    try:
        import uvloop

        return uvloop.run(main_async(args))
    except ImportError:  # pragma: no cover
        return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
