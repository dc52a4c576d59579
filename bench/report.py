"""The run's outputs: the targets judged, the Markdown table, the chart, and the results
section of docs/benchmarks.md."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import profile_summary, scaling_report
from bench.common import REPO

DOC = REPO / "docs" / "benchmarks.md"
CHART = REPO / "docs" / "benchmarks.png"
START, END = "<!-- results:start -->", "<!-- results:end -->"
CELERY_GROUPS = ("celery", "producer", "redis")
BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Target:
    figure: str
    value: float | None
    target: str
    met: bool | None
    unit: str = ""
    note: str = ""


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _check(value: float | None, limit: float, at_least: bool) -> bool | None:
    if value is None:
        return None
    return value >= limit if at_least else value <= limit


# Where the CPU per delivery is compared with the bare client's: scenario -> the runs of a
# database's result that have a figure (the result itself, or the named parts of it).
CPU_COMPARED: dict[str, tuple[str, ...]] = {
    "e2e": ("",),
    "rate": ("",),
    "fanout": ("",),
    "isolation": ("all_healthy", "with_hanging"),
    "history": ("empty", "grown"),
}


def bare_client(results: dict[str, Any]) -> dict[str, Any] | None:
    """The bare client's CPU per request measured in this run: the raw ceiling's client
    (the median of its runs with --repeat), or the reference measured for it when the raw
    scenario was not run."""
    raw = results["scenarios"].get("raw")
    if isinstance(raw, dict) and "from_run" not in raw and raw.get("per_second"):
        us = raw.get("cpu_per_request_us_median") or raw.get("cpu_per_request_us")
        if us is None:  # a result file from before the figure: from the client's CPU %
            run = raw["runs"][str(raw["receiver_workers"])]
            us = round(1e6 * run["client_cpu_pct"] / 100 * run["seconds"] / run["count"], 1)
        repeats = raw.get("repeats_cpu_per_request_us")
        return {
            "cpu_per_request_us": us,
            "source": "the raw ceiling's client"
            + (f", median of {len(repeats)} runs" if repeats else ""),
            "repeats": repeats,
        }
    reference = results.get("bare_client_reference")
    if isinstance(reference, dict) and reference.get("cpu_per_request_us"):
        return {
            "cpu_per_request_us": reference["cpu_per_request_us"],
            "source": f"the bare client alone, {reference['count']:,} requests",
            "repeats": None,
        }
    return None


def compare_cpu(results: dict[str, Any]) -> None:
    """Set ``bare_client`` and, in each throughput result of this run with a CPU per
    delivery, ``cpu_vs_bare``: hookline's CPU per delivery (the median of the runs with
    --repeat), the bare client's per request, and their ratio. Results copied from another
    run (--reuse) keep the comparison made in theirs."""
    bare = bare_client(results)
    results["bare_client"] = bare
    for name, subs in CPU_COMPARED.items():
        data = results["scenarios"].get(name)
        for value in data.values() if isinstance(data, dict) else []:
            if not isinstance(value, dict) or "from_run" in value:
                continue
            for sub in subs:
                run = value.get(sub) if sub else value
                if not isinstance(run, dict):
                    continue
                for each in (run, run.get("fixed_rate")):
                    if isinstance(each, dict) and each.get("cpu_per_delivery_us") is not None:
                        each["cpu_vs_bare"] = _versus(each, bare)


def _versus(run: dict[str, Any], bare: dict[str, Any] | None) -> dict[str, Any]:
    hookline = run.get("cpu_per_delivery_us_median") or run["cpu_per_delivery_us"]
    out: dict[str, Any] = {"hookline_us": hookline}
    server = run.get("postgres_cpu_per_delivery_us_median") or run.get(
        "postgres_cpu_per_delivery_us"
    )
    if server is not None:
        out["postgres_server_us"] = server
    if run.get("repeats_cpu_per_delivery_us"):
        out["median_of"] = len(run["repeats_cpu_per_delivery_us"])
    if bare is not None:
        out["bare_us"] = bare["cpu_per_request_us"]
        out["ratio"] = round(hookline / bare["cpu_per_request_us"], 3)
    return out


def _cpu_text(run: dict[str, Any] | None) -> str | None:
    """``hookline / bare µs = ratio ×`` for a figures row, or None without a figure."""
    if not isinstance(run, dict):
        return None
    versus = run.get("cpu_vs_bare")
    if versus is None:
        return None
    text = f"{versus['hookline_us']:,.0f}"
    if "bare_us" in versus:
        text += f" / {versus['bare_us']:,.0f} µs = {versus['ratio']:.2f} ×"
    else:
        text += " µs (no bare client measured)"
    if "postgres_server_us" in versus:
        text += f"; PostgreSQL server {versus['postgres_server_us']:,.0f} µs more"
    if versus.get("median_of"):
        each = ", ".join(f"{v:,.0f}" for v in run["repeats_cpu_per_delivery_us"])
        text += f" (medians of {versus['median_of']} runs; hookline each run: {each})"
    return text


def targets(results: dict[str, Any]) -> list[Target]:
    s = results["scenarios"]
    scale = results["scale"]
    full = not results["quick"] and (
        scale["raw_count"] >= 100_000
        and scale["e2e_events"] >= 5_000
        and scale["rate_seconds"] >= 20
        and scale["isolation_events"] >= 2_000
    )
    raw = _get(s, "raw", "per_second")
    celery = _get(s, "celery", "per_second")
    found: list[Target] = []
    for backend in ("sqlite", "postgres"):
        e2e = _get(s, "e2e", backend)
        if not isinstance(e2e, dict) or e2e.get("cpu_per_delivery_us") is None:
            continue
        versus = e2e.get("cpu_vs_bare") or {}
        note = (
            f"{versus['hookline_us']:,.0f} / {versus['bare_us']:,.0f} µs"
            if "bare_us" in versus
            else "no bare client measured"
        )
        if "postgres_server_us" in versus:
            note += f"; the PostgreSQL server {versus['postgres_server_us']:,.0f} µs more"
        if versus.get("median_of"):
            note += f"; medians of {versus['median_of']} runs"
        found.append(
            Target(
                f"CPU per delivery, {BACKEND_NAMES[backend]}: hookline / the bare client's "
                "per request",
                versus.get("ratio"),
                "≤ 2",
                _check(versus.get("ratio"), 2, False),
                "×",
                note,
            )
        )
    for backend, minimum in (("sqlite", 0.5), ("postgres", 0.4)):
        rate = _get(s, "e2e", backend, "per_second")
        if rate is None:
            continue
        ratio = _ratio(rate, raw)
        found.append(
            Target(
                f"hookline {BACKEND_NAMES[backend]} / raw ceiling",
                ratio,
                f"≥ {minimum}",
                _check(ratio, minimum, True),
                "×",
                f"{rate:.0f} / {raw:.0f} deliveries/s" if raw else "",
            )
        )
        if backend == "sqlite":
            ratio = _ratio(rate, celery)
            found.append(
                Target(
                    "hookline SQLite / Celery",
                    ratio,
                    "≥ 7",
                    _check(ratio, 7, True),
                    "×",
                    f"{rate:.0f} / {celery:.0f} deliveries/s" if celery else "Celery skipped",
                )
            )
    for backend in ("sqlite", "postgres"):
        p99 = _get(s, "rate", backend, "lag", "p99_ms")
        if p99 is not None:
            offered = _get(s, "rate", backend, "offered_per_second")
            found.append(
                Target(
                    f"p99 lag at {offered:,}/s, {BACKEND_NAMES[backend]}",
                    p99,
                    "≤ 50 ms",
                    _check(p99, 50, False),
                    "ms",
                    f"p50 {_get(s, 'rate', backend, 'lag', 'p50_ms'):.1f} ms, max "
                    f"{_get(s, 'rate', backend, 'lag', 'max_ms'):.1f} ms",
                )
            )
    for backend in ("sqlite", "postgres"):
        median = _get(s, "fanout", backend, "median_ms")
        if median is not None:
            found.append(
                Target(
                    f"fan-out to 100 webhooks, {BACKEND_NAMES[backend]} (median)",
                    median,
                    "≤ 100 ms",
                    _check(median, 100, False),
                    "ms",
                    f"{_get(s, 'fanout', backend, 'reps')} reps, cold "
                    f"{_get(s, 'fanout', backend, 'cold_ms'):.0f} ms",
                )
            )
    for backend in ("sqlite", "postgres"):
        kept = _get(s, "isolation", backend, "throughput_kept")
        if kept is not None:
            name = BACKEND_NAMES[backend]
            found.append(
                Target(
                    f"isolation, {name}: healthy throughput kept",
                    kept,
                    "≥ 0.9",
                    _check(kept, 0.9, True),
                    "×",
                )
            )
            ratio = _get(s, "isolation", backend, "p99_ratio")
            offered = _get(
                s, "isolation", backend, "with_hanging", "fixed_rate", "offered_per_second"
            )
            found.append(
                Target(
                    f"isolation, {name}: healthy p99 / all-healthy p99 (at {offered}/s)",
                    ratio,
                    "≤ 2",
                    _check(ratio, 2, False),
                    "×",
                )
            )
    for backend in ("sqlite", "postgres"):
        rss = _get(s, "backlog", backend, "peak_rss_mb")
        if rss is not None:
            size = _get(s, "backlog", backend, "deliveries")
            found.append(
                Target(
                    f"peak RSS with a {size:,} backlog, {BACKEND_NAMES[backend]}",
                    rss,
                    "≤ 300 MB" + ("" if size >= 1_000_000 else " (at 1,000,000)"),
                    _check(rss, 300, False),
                    "MB",
                    f"drain {_get(s, 'backlog', backend, 'drain_per_second') or 0:.0f}/s",
                )
            )
    for backend in ("sqlite", "postgres"):
        kept = _get(s, "history", backend, "throughput_kept")
        if kept is not None:
            rows = _get(s, "history", backend, "history_rows")
            found.append(
                Target(
                    f"throughput with {rows:,} rows of history / with none, "
                    f"{BACKEND_NAMES[backend]}",
                    kept,
                    "≥ 0.9" + ("" if rows >= 5_000_000 else " (at 5,000,000)"),
                    _check(kept, 0.9, True),
                    "×",
                )
            )
    found += _noisy_targets(results)
    if not full:  # the backlog, history and noisy-neighbour targets say their own size
        found = [
            t
            if t.figure.startswith(("peak RSS", "throughput with", "noisy neighbour"))
            else Target(
                t.figure, t.value, t.target, t.met, t.unit, f"{t.note}; scaled down".lstrip("; ")
            )
            for t in found
        ]
    return found


NOISY_PHASES = ("alone", "attacked")


def _noisy_targets(results: dict[str, Any]) -> list[Target]:
    """Scenario 9: the victim's figures in both phases (the worse one judged), the
    database's peak size and the 5xx answers anyone got."""
    found: list[Target] = []
    for backend in ("sqlite", "postgres"):
        noisy = _get(results["scenarios"], "noisy", backend)
        if not noisy or not all(phase in noisy for phase in NOISY_PHASES):
            continue
        name = BACKEND_NAMES[backend]
        full = not results["quick"] and noisy["seconds"] >= 60
        size = f"T = {noisy['seconds']:g} s" + ("" if full else ", scaled down")
        for label, path, limit, missing in (
            ("victim publish p99", ("publish", "p99_ms"), 1000, "no request made"),
            ("victim API (list) p99", ("list", "p99_ms"), 1000, "no request made"),
            ("victim delivery lag p99", ("lag", "p99_ms"), 3000, "no event received"),
        ):
            alone, attacked = (_get(noisy, phase, *path) for phase in NOISY_PHASES)
            # Unknown if a phase has no figure (no event received: none was accepted).
            worst = None if alone is None or attacked is None else max(alone, attacked)
            each = " / ".join(
                f"{phase} {_fmt(value, 'ms')}" if value is not None else f"{phase}: {missing}"
                for phase, value in zip(NOISY_PHASES, (alone, attacked), strict=True)
            )
            found.append(
                Target(
                    f"noisy neighbour, {name}: {label}",
                    worst,
                    f"≤ {limit:,} ms",
                    _check(worst, limit, False),
                    "ms",
                    f"{each}; {size}",
                )
            )
        for label, key in (("victim errors", "errors"), ("victim events lost", "lost")):
            alone, attacked = (noisy[phase][key] for phase in NOISY_PHASES)
            accepted = " / ".join(f"{noisy[phase]['accepted']:,}" for phase in NOISY_PHASES)
            found.append(
                Target(
                    f"noisy neighbour, {name}: {label}",
                    alone + attacked,
                    "0",
                    alone + attacked == 0,
                    "",
                    f"alone {alone} / attacked {attacked}"
                    + (f", of {accepted} accepted" if key == "lost" else "")
                    + f"; {size}",
                )
            )
        peak = noisy.get("database_peak_mb")
        found.append(
            Target(
                f"noisy neighbour, {name}: database"
                + (" + WAL" if backend == "sqlite" else " (pg_database_size)")
                + ", peak",
                peak,
                "≤ 1 GB",
                _check(peak, 1024, False),
                "MB",
                f"{noisy['database_mb']:,.0f} MB after; {size}",
            )
        )
        found.append(
            Target(
                f"noisy neighbour, {name}: 5xx answers, anyone",
                noisy["five_xx_anyone"],
                "0",
                noisy["five_xx_anyone"] == 0,
                "",
                f"attacker {noisy['five_xx_attacker']}; {size}",
            )
        )
    return found


def _noisy_figures(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    label = "9 noisy neighbour"
    for backend in ("sqlite", "postgres"):
        noisy = _get(results["scenarios"], "noisy", backend)
        if not noisy or not all(phase in noisy for phase in NOISY_PHASES):
            continue
        name = BACKEND_NAMES[backend]
        attack = noisy["attack"]
        rows.append(
            (
                label,
                f"{name}: each phase / drain; the attack",
                f"{noisy['seconds']:g} s / {noisy['drain_seconds']:g} s; filter of "
                f"{attack['filter_clauses']} clauses over {attack['bomb_numbers']:,} numbers; "
                f"{attack['flood_webhooks']} webhooks × {attack['flood_events']:,} events of "
                f"{attack['flood_event_bytes'] / 1000:g} KB a publish; lists with "
                f"{attack['list_event_types']} types × {attack['list_parallel']}; "
                f"{attack['resends']} resends a round",
            )
        )
        for phase in NOISY_PHASES:
            got = noisy[phase]
            head = f"{name}, {phase}: victim"
            for what, key in (("publish", "publish"), ("list", "list"), ("delivery lag", "lag")):
                figure = got[key]
                rows.append(
                    (
                        label,
                        f"{head} {what} p50 / p99 / max",
                        " / ".join(_fmt(figure[p]) for p in ("p50_ms", "p99_ms", "max_ms")) + " ms",
                    )
                )
            kinds = ", ".join(f"{k} ×{v}" for k, v in got["error_kinds"].items())
            rows.append(
                (
                    label,
                    f"{head} errors; events lost",
                    f"{got['errors']}" + (f" ({kinds})" if kinds else "") + f"; {got['lost']} of "
                    f"{got['accepted']:,} accepted (drain waited {got['drain_waited_seconds']} s)",
                )
            )
            rows.append(
                (
                    label,
                    f"{name}, {phase}: hookline peak RSS; database after",
                    f"{got['usage'].get('hookline_peak_rss_mb')} MB; {got['database_mb']:,.0f} MB",
                )
            )
        attacker = noisy["attacked"]["attacker"]
        for abuse, tally in attacker["abuses"].items():
            answers = ", ".join(f"{k} ×{v}" for k, v in tally["statuses"].items()) or "none"
            failed = ", ".join(f"{k} ×{v}" for k, v in tally["failures"].items())
            rows.append(
                (
                    label,
                    f"{name}, attacker's {abuse.replace('_', ' ')}: requests; answers",
                    f"{tally['requests']:,}; {answers}"
                    + (f"; no answer: {failed}" if failed else "")
                    + (
                        f"; {tally['abandoned']} unanswered when it stopped"
                        if tally.get("abandoned")
                        else ""
                    ),
                )
            )
        done = attacker["done"]
        receipts = noisy["attacked"].get("attacker_receipts", {})
        rows.append(
            (
                label,
                f"{name}, attacker: publishes accepted; deliveries received during the phase",
                f"flood {done.get('flood_publishes', 0)}, filter bomb "
                f"{done.get('filter_bomb_publishes', 0)}, resend rounds "
                f"{done.get('resend_rounds', 0)}; "
                + (", ".join(f"{k} {v:,}" for k, v in sorted(receipts.items())) or "none"),
            )
        )
        rows.append(
            (
                label,
                f"{name}: database peak; 5xx (victim + attacker)",
                f"{noisy['database_peak_mb']:,.0f} MB; {noisy['five_xx_anyone']} "
                f"({noisy['five_xx_anyone'] - noisy['five_xx_attacker']} + "
                f"{noisy['five_xx_attacker']})",
            )
        )
    return rows


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return (
        f"{text} {unit}".strip() if unit and unit != "×" else (text + (" ×" if unit == "×" else ""))
    )


def _met(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "—"}[met]


def figures(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every figure: (scenario, figure, value)."""
    s = results["scenarios"]
    rows: list[tuple[str, str, str]] = []
    reference = results.get("bare_client_reference")
    if "raw" not in s and isinstance(reference, dict) and reference.get("cpu_per_request_us"):
        rows.append(
            (
                "bare client",
                f"CPU per request, for the CPU per delivery figures ({reference['count']:,} "
                "requests, the raw ceiling's client alone)",
                f"{reference['cpu_per_request_us']:,.0f} µs ({reference['per_second']:,.0f}/s)",
            )
        )
    raw = s.get("raw")
    if raw and "per_second" in raw:
        for workers, run in raw["runs"].items():
            rows.append(
                (
                    "1 raw ceiling",
                    f"deliveries/s ({workers} receiver process(es), 64 in flight)",
                    f"{run['per_second']:,.0f}",
                )
            )
            usage = run["usage"]
            if workers == str(raw.get("receiver_workers")):
                bare = bare_client(results)
                rows.append(
                    (
                        "1 raw ceiling",
                        "CPU per request, the bare client",
                        f"{bare['cpu_per_request_us']:,.0f} µs ({bare['source']})"
                        if bare
                        else f"{_cpu_ms(usage, ('client',), run['per_second']):.2f} ms",
                    )
                )
            rows.append(
                (
                    "1 raw ceiling",
                    f"CPU, {workers} receiver process(es): client / receivers",
                    f"{usage['client_cpu_pct']}% / {usage['receivers_cpu_pct']}%",
                )
            )
    if raw and raw.get("repeats_per_second"):
        rows.append(("1 raw ceiling", "every repeat, deliveries/s", _spread(raw)))
    celery = s.get("celery")
    if celery:
        if "skipped" in celery:
            rows.append(("2 Celery", "skipped", celery["skipped"]))
        elif "per_second" in celery:
            rows.append(
                (
                    "2 Celery",
                    f"deliveries/s (prefork ×{celery['concurrency']}, {celery['broker']})",
                    f"{celery['per_second']:,.0f}",
                )
            )
            rows.append(
                (
                    "2 Celery",
                    "CPU per delivery: worker processes + producer + Redis",
                    f"{_cpu_ms(celery['usage'], CELERY_GROUPS, celery['per_second']):.2f} ms",
                )
            )
            if celery.get("repeats_per_second"):
                rows.append(("2 Celery", "every repeat, deliveries/s", _spread(celery)))
            rows.append(
                (
                    "2 Celery",
                    "lag p50 / p99 (enqueue → receipt)",
                    f"{celery['lag']['p50_ms']:,.0f} / {celery['lag']['p99_ms']:,.0f} ms",
                )
            )
    for backend in ("sqlite", "postgres"):
        name = BACKEND_NAMES[backend]
        e2e = _get(s, "e2e", backend)
        if e2e and "per_second" in e2e:
            procs = e2e.get("processes", 1)
            label = f"{name}: deliveries/s" + (
                f" (serve + {procs - 1} `hookline worker`)" if procs > 1 else ""
            )
            rows.append(("3 end to end", label, f"{e2e['per_second']:,.0f}"))
            if e2e.get("repeats_per_second"):
                rows.append(("3 end to end", f"{name}: every repeat, deliveries/s", _spread(e2e)))
            rows.append(
                (
                    "3 end to end",
                    f"{name}: lag p50 / p99",
                    f"{e2e['lag']['p50_ms']:,.0f} / {e2e['lag']['p99_ms']:,.0f} ms",
                )
            )
            compared = _cpu_text(e2e)
            if compared:
                rows.append(
                    (
                        "3 end to end",
                        f"{name}: CPU per delivery, hookline / the bare client's per request",
                        compared,
                    )
                )
            else:  # a result file from before the comparison
                per = _cpu_ms(e2e["usage"], ("hookline",), e2e["per_second"])
                server = _cpu_ms(e2e["usage"], ("postgres",), e2e["per_second"])
                rows.append(
                    (
                        "3 end to end",
                        f"{name}: CPU per delivery, hookline" + (" / PostgreSQL" if server else ""),
                        f"{per:.2f}" + (f" / {server:.2f}" if server else "") + " ms",
                    )
                )
            rows.append(
                (
                    "3 end to end",
                    f"{name}: CPU hookline / receivers / machine",
                    f"{e2e['usage']['hookline_cpu_pct']}% / {e2e['usage']['receivers_cpu_pct']}%"
                    f" / {e2e['usage']['machine_cpu_pct']}%",
                )
            )
    for backend in ("sqlite", "postgres"):
        rate = _get(s, "rate", backend)
        if rate and "lag" in rate:
            lag = rate["lag"]
            rows.append(
                (
                    "4 fixed rate",
                    f"{BACKEND_NAMES[backend]}: lag p50 / p99 / max at "
                    f"{rate['offered_per_second']:,}/s for {rate['seconds']:g} s",
                    f"{lag['p50_ms']:.1f} / {lag['p99_ms']:.1f} / {lag['max_ms']:.1f} ms",
                )
            )
            compared = _cpu_text(rate)
            if compared:
                rows.append(
                    (
                        "4 fixed rate",
                        f"{BACKEND_NAMES[backend]}: CPU per delivery, hookline / the bare "
                        "client's per request",
                        compared,
                    )
                )
    for backend in ("sqlite", "postgres"):
        fan = _get(s, "fanout", backend)
        if fan and "median_ms" in fan:
            rows.append(
                (
                    "5 fan-out",
                    f"{BACKEND_NAMES[backend]}: one event to 100 webhooks, last receipt "
                    f"(median of {fan['reps']}; cold)",
                    f"{fan['median_ms']:.1f} ms; {fan['cold_ms']:.0f} ms",
                )
            )
            compared = _cpu_text(fan)
            if compared:
                rows.append(
                    (
                        "5 fan-out",
                        f"{BACKEND_NAMES[backend]}: CPU per delivery of the warm reps (pauses "
                        "included), hookline / the bare client's per request",
                        compared,
                    )
                )
    for backend in ("sqlite", "postgres"):
        iso = _get(s, "isolation", backend)
        if iso and "all_healthy" in iso and "with_hanging" in iso:
            for label in ("all_healthy", "with_hanging"):
                run = iso[label]
                name = f"{BACKEND_NAMES[backend]}, {label.replace('_', ' ')}"
                rows.append(
                    (
                        "6 isolation",
                        f"{name}: 18 healthy endpoints' deliveries/s, p99 (saturated)",
                        f"{run['per_second']:,.0f}/s, {run['lag']['p99_ms']:,.0f} ms",
                    )
                )
                compared = _cpu_text(run)
                if compared:
                    rows.append(
                        (
                            "6 isolation",
                            f"{name}: CPU per delivery (saturated, every request sent), "
                            "hookline / the bare client's per request",
                            compared,
                        )
                    )
                fixed = run.get("fixed_rate")
                if fixed:
                    rows.append(
                        (
                            "6 isolation",
                            f"{name}: healthy lag p50 / p99 at {fixed['offered_per_second']}/s",
                            f"{fixed['lag']['p50_ms']:.1f} / {fixed['lag']['p99_ms']:.1f} ms",
                        )
                    )
    for backend in ("sqlite", "postgres"):
        bl = _get(s, "backlog", backend)
        if bl and "peak_rss_mb" in bl:
            rows.append(
                (
                    "7 backlog",
                    f"{BACKEND_NAMES[backend]}: {bl['deliveries']:,} pending; built at",
                    f"{bl['fill_per_second']:,.0f} deliveries/s",
                )
            )
            rows.append(
                (
                    "7 backlog",
                    f"{BACKEND_NAMES[backend]}: peak RSS holding / draining",
                    f"{bl['peak_rss_holding_mb']} / {bl['peak_rss_draining_mb']} MB",
                )
            )
            rows.append(
                (
                    "7 backlog",
                    f"{BACKEND_NAMES[backend]}: drain rate (all; 10–90%)",
                    f"{bl['drain_per_second'] or 0:,.0f}/s; "
                    f"{bl['drain_10_90_per_second'] or 0:,.0f}/s"
                    + ("" if bl["complete"] else f" (only {bl['received']:,} received)"),
                )
            )
    for backend in ("sqlite", "postgres"):
        hist = _get(s, "history", backend)
        if hist and "empty" in hist and "grown" in hist:
            rows.append(
                (
                    "8 history",
                    f"{BACKEND_NAMES[backend]}: deliveries/s with 0 / {hist['history_rows']:,} "
                    "rows of history",
                    f"{hist['empty']['per_second']:,.0f} / {hist['grown']['per_second']:,.0f}",
                )
            )
    rows += _noisy_figures(results)
    rows += _api_figures(results)
    for name, data in s.items():
        for backend, value in data.items() if isinstance(data, dict) else []:
            if isinstance(value, dict) and "error" in value:
                rows.append((name, f"{backend}: failed", value["error"][:200]))
        if isinstance(data, dict) and "error" in data:
            rows.append((name, "failed", str(data["error"])[:200]))
    return rows


def _api_figures(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for backend in ("sqlite", "postgres"):
        api = _get(results["scenarios"], "api", backend)
        if not api or "bare" not in api:
            continue
        bare = api["bare"]
        for name, label in (("webhook", "GET of a webhook"), ("page", "GET of a page of 20")):
            got = api[name]
            server = got.get("postgres_cpu_per_request_us")
            rows.append(
                (
                    "10 management API",
                    f"{BACKEND_NAMES[backend]}: {label}, CPU a request, hookline / a bare "
                    "uvicorn and Starlette app answering the same JSON",
                    f"{got['cpu_per_request_us']:,.0f} / {bare['cpu_per_request_us']:,.0f} µs = "
                    f"{got['versus_bare']:.2f} ×"
                    + (f"; PostgreSQL server {server:,.0f} µs more" if server else "")
                    + f"; {got['per_second']:,.0f} requests/s one at a time",
                )
            )
    return rows


def _cpu_ms(usage: dict[str, Any], groups: tuple[str, ...], per_second: float | None) -> float:
    """CPU milliseconds per delivery of these process groups."""
    if not per_second:
        return 0.0
    percent = sum(usage.get(f"{g}_cpu_pct", 0.0) for g in groups)
    return 10 * percent / per_second  # (percent / 100) s per s, / per_second, x 1000 ms


def _spread(data: dict[str, Any]) -> str:
    values = data["repeats_per_second"]
    low, high = min(values), max(values)
    return (
        ", ".join(f"{v:,.0f}" for v in values)
        + f" (median run shown; spread {100 * (high - low) / high:.0f}% of the best)"
    )


def markdown(results: dict[str, Any], chart: str | None = None) -> str:
    m = results["machine"]
    lines = [
        f"## Results of {results['stamp']}" + ("" if results["full_scale"] else " (scaled down)"),
        "",
        f"Command: `{results['command']}` — {results['elapsed_seconds'] / 60:.1f} min."
        + (
            f" Tables made with `{results['rendered_with']}`."
            if results.get("rendered_with")
            else ""
        ),
        "",
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}; "
        f"Python {m['python']}, SQLite {m['sqlite']}, {m.get('postgres') or 'no PostgreSQL'}, "
        f"{m.get('redis') or 'no Redis'}; load average {m['load_average_at_start']} at the start, "
        f"{m.get('load_average_at_end')} at the end. Receivers: "
        f"{results['settings']['receiver_workers']} process(es); Celery: prefork "
        f"×{results['settings']['celery_concurrency']}.",
        "",
        "| target | measured | target | |",
        "|---|---|---|---|",
    ]
    for t in targets(results):
        value = _fmt(t.value, t.unit)
        note = f" ({t.note})" if t.note else ""
        lines.append(f"| {t.figure} | {value}{note} | {t.target} | {_met(t.met)} |")
    lines += ["", "| scenario | figure | value |", "|---|---|---|"]
    for scenario, figure, value in figures(results):
        lines.append(f"| {scenario} | {figure} | {value} |")
    bare = bare_client(results)
    lines += scaling_report.markdown(results, bare["cpu_per_request_us"] if bare else None)
    lines += profile_tables(results)
    for note in results.get("notes", []):
        lines += ["", f"Note: {note}."]
    noise = results.get("noise")
    if noise:
        lines += ["", f"Noise: {noise}"]
    if chart:
        lines += ["", f"![hookline vs the raw ceiling vs Celery]({chart})"]
    return "\n".join(lines) + "\n"


def profile_tables(results: dict[str, Any]) -> list[str]:
    """The profile table (--profile-table) of every run that has one."""
    bare = bare_client(results)
    lines: list[str] = []
    for name, subs in CPU_COMPARED.items():
        data = results["scenarios"].get(name)
        for backend, value in data.items() if isinstance(data, dict) else []:
            for sub in subs:
                run = (value.get(sub) if sub else value) if isinstance(value, dict) else None
                if not isinstance(run, dict) or "profile" not in run:
                    continue
                label = " ".join(filter(None, (name, BACKEND_NAMES.get(backend), sub)))
                title = f"**Where hookline's CPU goes, {label}** (profile table)"
                if run.get("repeats_per_second"):
                    title += f", the median run of {len(run['repeats_per_second'])}"
                if "from_run" in value:
                    title += f", from the run of {value['from_run']}"
                    bare_us = (run.get("cpu_vs_bare") or {}).get("bare_us")
                else:
                    bare_us = bare["cpu_per_request_us"] if bare else None
                lines += ["", *profile_summary.markdown(run["profile"], bare_us, title)]
    return lines


def chart(results: dict[str, Any], path: Path) -> bool:
    """Bars: deliveries/s of the raw ceiling, Celery and hookline; and the latencies."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    s = results["scenarios"]
    raw = _get(s, "raw", "per_second")
    celery = _get(s, "celery", "per_second")
    bars = [
        ("raw ceiling\n(aiohttp, no storage)", raw, "#888888"),
        ("Celery + requests\n(Redis, prefork)", celery, "#d08c2a"),
        ("hookline\nSQLite", _get(s, "e2e", "sqlite", "per_second"), "#2a6fd0"),
        ("hookline\nPostgreSQL", _get(s, "e2e", "postgres", "per_second"), "#2aa05a"),
    ]
    bars = [b for b in bars if b[1]]
    if not bars and not any(s.get(name) for name in ("rate", "fanout")):
        return False  # nothing to draw (the scale-out scenarios have tables only)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]}
    )
    left.bar([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    for index, (_, value, _) in enumerate(bars):
        left.text(index, value, f"{value:,.0f}", ha="center", va="bottom")
    if raw:
        left.axhline(
            0.5 * raw,
            color="#2a6fd0",
            linestyle="--",
            linewidth=1,
            label="target SQLite: 0.5 × raw",
        )
        left.axhline(
            0.4 * raw,
            color="#2aa05a",
            linestyle=":",
            linewidth=1,
            label="target PostgreSQL: 0.4 × raw",
        )
    if celery:
        left.axhline(
            7 * celery,
            color="#d08c2a",
            linestyle="--",
            linewidth=1,
            label="target SQLite: 7 × Celery",
        )
    left.set_ylabel("deliveries / s (higher is better)")
    left.set_title("Throughput, 2 cores, loopback HTTPS, ~1 KB signed bodies")
    if left.get_legend_handles_labels()[0]:
        left.legend(fontsize=8, loc="upper right")
    labels, values, colors = [], [], []
    for backend, color in (("sqlite", "#2a6fd0"), ("postgres", "#2aa05a")):
        name = BACKEND_NAMES[backend]
        for label, value in (
            (f"{name}\np99 @1,000/s", _get(s, "rate", backend, "lag", "p99_ms")),
            (f"{name}\nfan-out 100", _get(s, "fanout", backend, "median_ms")),
        ):
            if value is not None:
                labels.append(label)
                values.append(value)
                colors.append(color)
    if values:
        right.bar(labels, values, color=colors)
        for index, value in enumerate(values):
            right.text(index, value, f"{value:,.0f} ms", ha="center", va="bottom", fontsize=8)
        right.axhline(50, color="black", linestyle="--", linewidth=1, label="target p99: 50 ms")
        right.axhline(
            100, color="black", linestyle=":", linewidth=1, label="target fan-out: 100 ms"
        )
        right.set_yscale("log")
        right.set_ylim(1, max(values) * 6)  # room for the legend above the bars
        right.set_ylabel("ms (lower is better, log scale)")
        right.set_title("Latency")
        right.legend(fontsize=8, loc="upper left")
        right.tick_params(axis="x", labelsize=8)
    left.tick_params(axis="x", labelsize=8)
    figure.suptitle(f"hookline benchmark {results['stamp']}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def update_doc(table: str) -> None:
    text = DOC.read_text()
    if START not in text or END not in text:
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    table = table.replace("\n## Results of", "\n### Results of").replace(
        "## Results of", "### Results of", 1
    )
    DOC.write_text(f"{head}{START}\n{table}{END}{tail}")
