"""Endpoint health in SQL: the same two statements on SQLite and PostgreSQL.

What one request may read is bounded, whatever a webhook's history holds. An attempt
can fall in the window only if its delivery ended in the window or has not ended, so
the deliveries are found through the (webhook_id, ended_at) index: for each bucket of
the window, the latest ``per_part`` deliveries that ended in it, and ``per_part`` of
those not ended; their attempts come by the primary key of ``delivery_attempts``. The
parts together read at most ``SAMPLE_DELIVERIES`` deliveries (and their attempts, as
many as the retry schedule allows each), and a part that reached its share makes the
answer ``sampled``.

Counts and percentiles are computed by the database over that sample (window functions,
nearest rank), so a request hands a few dozen rows to Python, not the sample: the
percentiles cost the process nothing however busy the webhook, and the work in the
database is one bounded sort. The backlog is counted through the due index
(``ix_deliveries_due``), up to ``BACKLOG_CAP`` entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hookline.stats import Backlog, Bucket, EndpointStats, Figures, StatsQuery
from hookline.store.schema import deliveries, delivery_attempts
from hookline.store.sql_base import SqlBase

SAMPLE_DELIVERIES = 5_000  # deliveries read for one window, shared between its parts
BACKLOG_CAP = 10_000  # due deliveries counted; beyond, the count says "at least"
_WHOLE = -1  # the bucket number of the row about the whole window
_PARTS_FULL = -2  # the row saying whether a part of the sample reached its share


class EndpointStatsQueries(SqlBase):
    _lateral_joins = False  # whether the database has LATERAL joins

    async def endpoint_stats(self, query: StatsQuery) -> EndpointStats:
        starts = query.bucket_starts()
        per_part = SAMPLE_DELIVERIES // (len(starts) + 1)
        figures = _figures(query, starts, per_part, lateral=self._lateral_joins)
        rows, counted = await self._read(
            lambda conn: (conn.execute(figures).all(), conn.execute(_backlog(query)).one())
        )
        by_bucket = {row.bucket: row for row in rows}
        return EndpointStats(
            query=query,
            figures=_figures_of(by_bucket.get(_WHOLE)),
            series=tuple(
                Bucket(start, _figures_of(by_bucket.get(number)))
                for number, start in enumerate(starts)
            ),
            backlog=_backlog_of(counted),
            sampled=(by_bucket[_PARTS_FULL].attempts or 0) >= per_part,
        )


def _sample(query: StatsQuery, starts: Sequence[datetime], per_part: int) -> sa.CTE:
    """The ids of the deliveries read, each with the number of its part: one part per
    bucket (the latest deliveries that ended in it), then one of deliveries not ended."""
    ended = deliveries.c.ended_at
    latest_ended = [
        _deliveries(query, *_ended_between(low, high)).order_by(ended.desc())
        for low, high in zip(starts, [*starts[1:], None], strict=True)
    ]
    not_ended = _deliveries(query, ended.is_(None))
    parts = [select.limit(per_part).subquery() for select in [*latest_ended, not_ended]]
    return sa.union_all(
        *(
            sa.select(part.c.id, sa.literal(number).label("part"))
            for number, part in enumerate(parts)
        )
    ).cte("sample")


def _ended_between(low: datetime, high: datetime | None) -> list[sa.ColumnElement[bool]]:
    """Ended at ``low`` or later, and before ``high`` (the last bucket: whenever since)."""
    ended = deliveries.c.ended_at
    return [ended >= low] if high is None else [ended >= low, ended < high]


def _deliveries(query: StatsQuery, *where: sa.ColumnElement[bool]) -> sa.Select[str]:
    """The ids of the webhook's deliveries that meet ``where``."""
    return sa.select(deliveries.c.id).where(
        deliveries.c.webhook_id == query.webhook_id,
        deliveries.c.tenant_id == query.tenant_id,
        *where,
    )


def _figures(
    query: StatsQuery, starts: Sequence[datetime], per_part: int, *, lateral: bool
) -> sa.CompoundSelect[*tuple[Any, ...]]:
    """One row per bucket with attempts, one about the whole window (bucket ``_WHOLE``),
    and one whose ``attempts`` is the most deliveries any part read (``_PARTS_FULL``)."""
    sample = _sample(query, starts, per_part)
    attempts = _attempts(query, sample, starts, lateral=lateral)
    c = attempts.c
    ranked = sa.select(
        c.bucket,
        c.started_at,
        c.duration_ms,
        c.ok,
        sa.func.row_number().over(partition_by=c.bucket, order_by=c.duration_ms).label("b_rank"),
        sa.func.count().over(partition_by=c.bucket).label("b_size"),
        sa.func.row_number().over(order_by=c.duration_ms).label("rank"),
        sa.func.count().over().label("size"),
    ).cte("ranked")
    r = ranked.c
    per_bucket = sa.select(r.bucket, *_aggregates(r, r.b_rank, r.b_size)).group_by(r.bucket)
    whole = sa.select(sa.literal(_WHOLE), *_aggregates(r, r.rank, r.size))
    part_sizes = sa.select(sample.c.part, sa.func.count().label("n")).group_by(sample.c.part)
    fullest = part_sizes.subquery()
    parts_full = sa.select(
        sa.literal(_PARTS_FULL), sa.func.max(fullest.c.n), *(sa.null() for _ in range(5))
    )
    return sa.union_all(per_bucket, whole, parts_full)


def _attempts(
    query: StatsQuery, sample: sa.CTE, starts: Sequence[datetime], *, lateral: bool
) -> sa.CTE:
    """The sampled deliveries' attempts that started in the window, each with its bucket
    and 1 if it succeeded (the endpoint answered 2xx), else 0.

    They are looked up delivery by delivery in the primary key of ``delivery_attempts``.
    SQLite's planner does so by itself; PostgreSQL's may rather hash the whole table (every
    tenant's attempts) when it holds few rows against the sample, so there each delivery's
    attempts are a LATERAL subquery, kept apart from the join by an OFFSET."""
    a = delivery_attempts.c
    of_sample = a.delivery_id == sample.c.id
    found: sa.FromClause = delivery_attempts
    if lateral:
        found = (
            sa.select(a.started_at, a.duration_ms, a.status_code)
            .where(of_sample)
            .offset(0)
            .lateral("attempt")
        )
    joined = sample.join(found, sa.true() if lateral else of_sample)
    f = found.c
    bucket = sa.case(
        *((f.started_at < start, number) for number, start in enumerate(starts[1:])),
        else_=len(starts) - 1,
    )
    succeeded = sa.case((sa.and_(f.status_code >= 200, f.status_code < 300), 1), else_=0)
    return (
        sa.select(bucket.label("bucket"), f.started_at, f.duration_ms, succeeded.label("ok"))
        .select_from(joined)
        .where(f.started_at >= query.since, f.started_at <= query.until)
        .cte("attempts")
    )


def _aggregates(r: Any, rank: Any, size: Any) -> list[sa.ColumnElement[Any]]:
    """Attempts, successes, p50, p95 (nearest rank: the first value at or above the
    percentile's rank), and the start of the latest success and failure."""
    return [
        sa.func.count(r.duration_ms).label("attempts"),
        sa.func.sum(r.ok).label("successes"),
        _percentile(r, rank, size, 50).label("p50"),
        _percentile(r, rank, size, 95).label("p95"),
        sa.func.max(sa.case((r.ok == 1, r.started_at))).label("last_success"),
        sa.func.max(sa.case((r.ok == 0, r.started_at))).label("last_failure"),
    ]


def _percentile(r: Any, rank: Any, size: Any, percent: int) -> sa.ColumnElement[Any]:
    return sa.func.min(sa.case((rank * 100 >= size * percent, r.duration_ms)))


def _backlog(query: StatsQuery) -> sa.Select[int, Any]:
    """How many deliveries have a due time, read in due order through the due index up
    to one past the cap, and the earliest trigger time among them."""
    due = deliveries.c.next_attempt_at
    counted = (
        sa.select(deliveries.c.triggered_at)
        .where(
            deliveries.c.webhook_id == query.webhook_id,
            deliveries.c.tenant_id == query.tenant_id,
            due.is_not(None),
        )
        .order_by(due)
        .limit(BACKLOG_CAP + 1)
        .subquery()
    )
    return sa.select(
        sa.func.count().label("count"), sa.func.min(counted.c.triggered_at).label("oldest")
    )


def _backlog_of(row: Any) -> Backlog:
    return Backlog(
        count=min(row.count, BACKLOG_CAP),
        exact=row.count <= BACKLOG_CAP,
        oldest_triggered_at=_aware(row.oldest),
    )


def _figures_of(row: Any) -> Figures:
    if row is None or not row.attempts:
        return Figures()
    return Figures(
        attempts=int(row.attempts),
        successes=int(row.successes or 0),
        p50_ms=_float(row.p50),
        p95_ms=_float(row.p95),
        last_success_at=_aware(row.last_success),
        last_failure_at=_aware(row.last_failure),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _aware(moment: datetime | str | None) -> datetime | None:
    """An aggregate or a union may lose the column's type: SQLite then answers text,
    naive, in UTC."""
    if moment is None:
        return None
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
