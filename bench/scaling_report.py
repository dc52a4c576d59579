"""The scale-out scenarios' tables (bench/scaling.py) in the run's report: the workers
curve, claim latency with and without history, and the purge of a day."""

from __future__ import annotations

from typing import Any


def markdown(results: dict[str, Any], bare_us: float | None) -> list[str]:
    """The tables of the scale-out scenarios this run has (none: no lines);
    ``bare_us``: the bare client's CPU per request measured in the run."""
    s = results["scenarios"]
    lines: list[str] = []
    for name, table in (("workers", _workers), ("claims", _claims), ("purge", _purge)):
        data = s.get(name)
        if isinstance(data, dict) and not ({"error", "skipped"} & data.keys()):
            lines += ["", *table(results, data, bare_us)]
    return lines


def _raw_rate(results: dict[str, Any]) -> float | None:
    """The raw ceiling's deliveries/s in this run (the bare client's, if raw did not run)."""
    raw = results["scenarios"].get("raw")
    if isinstance(raw, dict) and raw.get("per_second"):
        return float(raw["per_second"])
    reference = results.get("bare_client_reference")
    return float(reference["per_second"]) if isinstance(reference, dict) else None


def _times(value: float | None, base: float | None, digits: int = 2) -> str:
    return f" ({value / base:.{digits}f} ×)" if value and base else ""


def _workers(results: dict[str, Any], data: dict[str, Any], bare_us: float | None) -> list[str]:
    raw = _raw_rate(results)
    lines = [
        f"**Workers curve, PostgreSQL**: `hookline serve` (which delivers too) and N "
        f"`hookline worker` processes on one database; {data['events']:,} events to "
        f"{data['webhooks']} webhooks each point, a fresh database each. Raw ceiling "
        + (f"{raw:,.0f}/s" if raw else "not measured")
        + "; bare client "
        + (f"{bare_us:,.0f} µs of CPU a request." if bare_us else "not measured."),
        "",
        "| workers (delivering processes) | deliveries/s (× raw) | hookline CPU µs a delivery "
        "(× bare) | PostgreSQL CPU µs a delivery | both, deliveries per CPU-second | CPU % "
        "hookline / PostgreSQL / receivers / other work (200% = both cores) | lag p50 / p99 "
        "ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for count, point in data["points"].items():
        if "per_second" not in point:
            lines.append(f"| {count} | failed: {point.get('error', '?')} | | | | | |")
            continue
        hookline = point.get("cpu_per_delivery_us")
        server = point.get("postgres_cpu_per_delivery_us")
        usage, lag = point["usage"], point["lag"]
        both = 1e6 / (hookline + server) if hookline and server else None
        rate = point["per_second"]
        lines.append(
            f"| {count} ({int(count) + 1}) | {rate:,.0f}{_times(rate, raw)} "
            f"| {hookline or 0:,.0f}{_times(hookline, bare_us)} | {server or 0:,.0f} "
            f"| {both or 0:,.0f} | {usage.get('hookline_cpu_pct')} / "
            f"{usage.get('postgres_cpu_pct')} / {usage.get('receivers_cpu_pct')} / "
            f"{usage.get('unaccounted_cpu_pct')} | {lag['p50_ms']:,.0f} / {lag['p99_ms']:,.0f} |"
        )
    return lines


def _claims(results: dict[str, Any], data: dict[str, Any], bare_us: float | None) -> list[str]:
    empty, full = data["empty"], data["with_history"]
    lines = [
        f"**Claim latency, PostgreSQL**: `PostgresStore.claim` of {empty['batch']} from a "
        f"queue of {data['tenants']} tenants × {data['webhooks_per_tenant']} webhooks (10–20 "
        f"due deliveries each, topped up), {empty['claims']:,} claims on each database after "
        "50 untimed, in turns of 50 on one and the other, each followed by the store's record "
        "of its deliveries (timed apart).",
        "",
        "| history | claim p50 / p90 / p99 / max ms | record p50 / p99 ms | deliveries a claim "
        "| database |",
        "|---|---|---|---|---|",
    ]
    for label, run in (("none", empty), (f"{data['history_rows']:,} deliveries", full)):
        claim, record = run["claim"], run["record"]
        lines.append(
            f"| {label} | {claim['p50_ms']} / {claim['p90_ms']} / {claim['p99_ms']} / "
            f"{claim['max_ms']} | {record['p50_ms']} / {record['p99_ms']} | "
            f"{run['claimed_mean']} (min {run['claimed_min']}) | {run['database_mb']:,} MB |"
        )
    met = "met" if data["p99_ratio"] <= 2 else "NOT met"
    lines += ["", f"Claim p99 with history / without: {data['p99_ratio']} × (target ≤ 2: {met})."]
    load = data.get("load")
    if load:
        sizes = ", ".join(f"{table} {mb:,.0f} MB" for table, mb in load["sizes_mb"].items())
        lines.append(
            f"History: {load['deliveries']:,} deliveries, {load['events']:,} events and one "
            f"attempt each, {load['start'][:16]} to {load['end'][:16]} UTC, written with "
            f"{load['method']}: {load['loaded_now']:,} this run in {load['load_seconds']:,} s "
            f"({load['deliveries_per_second'] or 0:,} deliveries/s), ANALYZE "
            f"{load['analyze_seconds']} s; partitioned tables: "
            f"{', '.join(load['partitioned']) or 'none'}; {sizes}."
        )
    return lines


def _purge(results: dict[str, Any], data: dict[str, Any], bare_us: float | None) -> list[str]:
    delete = data["delete"]
    lines = [
        f"**Purge of one day, PostgreSQL**: {data['rows_per_day']:,} deliveries (one event per "
        "10, one attempt each) in the day; partitioned tables: "
        f"{', '.join(data['partitioned']) or 'none'}; tablespace "
        f"{data.get('tablespace') or 'the default'}. CPU is the PostgreSQL server's (the "
        "database's backends and the server's own processes).",
        "",
        "| how | seconds | CPU seconds | WAL MB | database after |",
        "|---|---|---|---|---|",
        f"| DELETE as the store's purge does ({delete['deliveries']:,} deliveries, "
        f"{delete['events']:,} events, batches of 5,000) | {_cost(delete['delete'])} "
        f"| (before: {data['database_mb_before']:,} MB) |",
        f"| then VACUUM of the three tables | {_cost(delete['vacuum'])} "
        f"| {data['database_mb_after_delete']:,} MB |",
    ]
    drop = data.get("drop")
    if not drop:
        return [*lines, f"| dropping the day | not available: {data['drop_not_available']} | |"]
    parts = ", ".join(
        f"{name}: {part['rows']:,} rows, {part['mb']:,} MB"
        for name, part in drop["partitions"].items()
    )
    lines += [
        f"| DROP TABLE of the day's partitions ({parts}) | {_cost(drop['drop'])} "
        f"| {data['database_mb_after_drop']:,} MB |",
        "",
        "Deleting (with the VACUUM) / dropping, target ≥ 100 ×:",
    ]
    for measure, ratios in data["ratios"].items():
        met = "met" if ratios["delete"] >= 100 else "NOT met"
        lines.append(
            f"- {measure.replace('_', ' ')}: {ratios['delete']:,} × "
            f"({ratios['delete_and_vacuum']:,} ×): {met}"
        )
    return lines


def _cost(cost: dict[str, float]) -> str:
    return f"{cost['seconds']:,.2f} | {cost['cpu_seconds']:,.2f} | {cost['wal_bytes'] / 2**20:,.1f}"
