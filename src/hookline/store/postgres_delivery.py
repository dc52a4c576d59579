"""The delivery hot path on PostgreSQL: a claim is one statement, and so is the record of a
batch of outcomes that disables no webhook and starts, grows or ends no failing run (the
common case; `DeliveryQueue.record` handles the rest). Each is one round trip:
PostgreSQL runs a statement as its own transaction, and asyncpg keeps it prepared on the
connection.

The claim does in SQL what `DeliveryQueue.claim` does in a few statements with Python
between them: the webhooks due longest that have room, locked (``SKIP LOCKED``: one claim
at a time takes from each), and their tenants, locked the same way; each webhook's due
deliveries up to its room and its tenant's (a bound, less this process's attempts in
flight and the leases other processes hold), taken round-robin over tenants and then
their webhooks up to each tenant's room and the limit, leased, the webhooks'
``due_webhooks`` entries moved to their next due time, and the leased rows returned with
their webhooks' settings and their events' payloads. Rate-limited and ordered
webhooks are left to `DeliveryQueue.claim` (hookline.pacing); the statement says whether
any is due, in a row of its own when it leases nothing. The statements of one
query see one snapshot, so the next due time leaves out the rows the same statement
leases and counts the lease's end for the webhooks that had some.

Other processes' leases are counted up to the bound only (``LIMIT``), in the owners'
ranges of a partial index of leased rows (by webhook, and by tenant) on either side of
this process's own: the index keeps an entry of every lease recorded since the last
vacuum, and walking this process's own recent ones (a backlog drain records thousands a
second) made PostgreSQL the bottleneck of the drain (measured: 431 deliveries/s against
1,843/s without the count).

Two claims must not take the same room, each blind to the leases the other commits at
its end. So one claim at a time takes from each tenant and each webhook: a head is locked
after its tenant (``SKIP LOCKED``; PostgreSQL takes a row's locks in the order the
statement names them), and a claim that finds either taken leaves the webhook for its
next. A claim whose statement began before another committed does not see the other's
leases either; as every claim changes its heads' ``due_webhooks`` entries, it leaves
every webhook whose entry changed since it began (the row it locks is not the version it
ranked: ``ctid``). What stays open: such a claim may still take the room of a tenant the
other claimed from through other webhooks than its heads (a tenant with more due
webhooks than one claim takes, or its paced webhooks, which `DeliveryQueue.claim` takes),
if the other committed in the moment between this one's start and its locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from hookline.deliveries import NewDelivery, Result
from hookline.shares import Room
from hookline.store.queue import NOTHING_DUE, Leased, Target
from hookline.store.sql_base import WORK


def _held_elsewhere(column: str, key: str, bound: str) -> str:
    """SQL: how many deliveries whose ``column`` is ``key`` owners other than this claim's
    ($12) hold unexpired leases on, counted up to ``bound``, in the owners' ranges on
    either side of this one (the module's docstring says why)."""
    held = [
        f"""(SELECT FROM deliveries x
             WHERE x.{column} = {key} AND x.lease_owner IS NOT NULL
               AND x.lease_owner {side} $12 AND x.lease_until > $1
             LIMIT {bound})"""
        for side in ("<", ">")
    ]
    return f"(SELECT count(*) FROM ({' UNION ALL '.join(held)}) AS held)"  # noqa: S608 (ours)


CLAIM = f"""
WITH ranked AS (
    SELECT d.webhook_id, d.due_at, d.ctid,
           row_number() OVER (PARTITION BY d.tenant_id ORDER BY d.due_at) AS turn
    FROM due_webhooks d
    JOIN webhooks w ON w.id = d.webhook_id AND w.rate_limit IS NULL AND w.ordering = 'none'
    WHERE d.due_at <= $1
      AND d.webhook_id <> ALL($5::text[]) AND d.tenant_id <> ALL($7::text[])
), heads AS (
    SELECT h.webhook_id, h.tenant_id, r.turn, r.due_at,
           $8::int - coalesce(busy.n, 0) - {_held_elsewhere("webhook_id", "h.webhook_id", "$8")}
               AS webhook_room
    FROM due_webhooks h
    JOIN ranked r ON r.webhook_id = h.webhook_id AND r.ctid = h.ctid
    JOIN tenants t ON t.id = h.tenant_id
    LEFT JOIN unnest($4::text[], $6::int[]) AS busy(webhook_id, n)
           ON busy.webhook_id = h.webhook_id
    WHERE r.turn <= $3
    ORDER BY r.turn, r.due_at
    LIMIT $3
    -- In this order: a claim that finds the tenant taken holds none of its webhooks.
    FOR NO KEY UPDATE OF t SKIP LOCKED
    FOR UPDATE OF h SKIP LOCKED
), tenant_rooms AS MATERIALIZED (
    SELECT t.tenant_id,
           $9::int - coalesce(busy.n, 0) - {_held_elsewhere("tenant_id", "t.tenant_id", "$9")}
               AS tenant_room
    FROM (SELECT DISTINCT tenant_id FROM heads) AS t
    LEFT JOIN unnest($10::text[], $11::int[]) AS busy(tenant_id, n)
           ON busy.tenant_id = t.tenant_id
), candidates AS (
    SELECT h.tenant_id, h.webhook_id, h.due_at AS head_due, r.tenant_room,
           c.id, c.triggered_at, c.next_attempt_at, c.rank
    FROM heads h
    JOIN tenant_rooms r ON r.tenant_id = h.tenant_id
    CROSS JOIN LATERAL (
        SELECT d.id, d.triggered_at, d.next_attempt_at,
               row_number() OVER (ORDER BY d.next_attempt_at) AS rank
        FROM deliveries d
        WHERE d.webhook_id = h.webhook_id AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at
        LIMIT greatest(least(h.webhook_room, r.tenant_room), 0)
    ) c
), turns AS (
    SELECT c.*,
           row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.rank, c.head_due) AS turn,
           min(c.head_due) OVER (PARTITION BY c.tenant_id) AS tenant_due
    FROM candidates c
), chosen AS (
    SELECT id, triggered_at, webhook_id, next_attempt_at
    FROM turns
    WHERE turn <= tenant_room
    ORDER BY turn, tenant_due, tenant_id
    LIMIT $3
), leased AS (
    UPDATE deliveries d
    SET lease_until = $2, lease_owner = $12, next_attempt_at = $2
    FROM chosen
    WHERE d.id = chosen.id AND d.triggered_at = chosen.triggered_at
      AND d.next_attempt_at <= $1
    RETURNING d.id, d.tenant_id, d.webhook_id, d.event_id, d.event_type, d.cloud_events,
              d.triggered_at, d.attempt_count, d.trigger, chosen.next_attempt_at AS due_at,
              d.event_received_at
), refreshed AS (
    UPDATE due_webhooks u
    SET due_at = coalesce(
        least(
            (SELECT min(d.next_attempt_at) FROM deliveries d
             WHERE d.webhook_id = u.webhook_id AND d.next_attempt_at IS NOT NULL
               AND d.id NOT IN (SELECT id FROM chosen)),
            (SELECT $2::timestamptz FROM chosen c WHERE c.webhook_id = u.webhook_id LIMIT 1)
        ),
        $13
    )
    FROM heads
    WHERE u.webhook_id = heads.webhook_id
)
SELECT l.id, l.tenant_id, l.webhook_id, l.event_id, l.event_type, l.cloud_events,
       l.triggered_at, l.attempt_count, l.trigger,
       l.enabled, l.url, l.headers, l.sealed_secret, l.sealed_encrypted_headers,
       l.encrypted_header_names, l.check_certificate_revocation,
       l.sealed_previous_secret, l.secret_rotating_until, l.failing_since, l.payload,
       paced.due AS paced_due
FROM (
    SELECT EXISTS (
        SELECT FROM due_webhooks d
        JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.due_at <= $1 AND (w.rate_limit IS NOT NULL OR w.ordering <> 'none')
    ) AS due
) AS paced
LEFT JOIN (
    SELECT l.*, w.enabled, w.url, w.headers, w.sealed_secret, w.sealed_encrypted_headers,
           w.encrypted_header_names, w.check_certificate_revocation,
           w.sealed_previous_secret, w.secret_rotating_until, w.failing_since, e.payload
    FROM leased l
    JOIN webhooks w ON w.id = l.webhook_id
    LEFT JOIN events e ON e.tenant_id = l.tenant_id AND e.id = l.event_id
                       AND e.received_at >= coalesce(l.event_received_at, '-infinity')
) AS l ON true
ORDER BY l.due_at
"""  # noqa: S608 (only our own SQL is formatted in)


def claim_arguments(
    *, now: datetime, until: datetime, owner: str, limit: int, room: Room
) -> tuple[Any, ...]:
    busy_webhooks = list(room.webhooks)
    busy_tenants = list(room.tenants)
    return (
        now,
        until,
        limit,
        busy_webhooks,
        room.full_webhooks(),
        [room.webhooks[webhook] for webhook in busy_webhooks],
        room.full_tenants(),
        room.per_webhook,
        room.per_tenant,
        busy_tenants,
        [room.tenants[tenant] for tenant in busy_tenants],
        owner,
        NOTHING_DUE,
    )


def claimed_rows(
    rows: Sequence[Any],
) -> tuple[list[Leased], dict[str, Target], dict[tuple[str, str], str | None]]:
    """The claim's rows as `to_claimed` takes them (its row that only says whether paced
    webhooks are due, when it leased nothing, left out)."""
    rows = [row for row in rows if row["id"] is not None]
    leased = [Leased(*row[:9]) for row in rows]
    targets = {row["webhook_id"]: Target._make(row[9:19]) for row in rows}
    payloads = {(row["tenant_id"], row["event_id"]): row["payload"] for row in rows}
    return leased, targets, payloads


RECORD = """
WITH v AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[],
        $7::text[], $8::text[], $9::int[], $10::text[], $11::text[],
        $12::timestamptz[], $13::float8[], $14::int[], $15::text[], $16::timestamptz[]
    ) AS v(id, status, message, number, next_at, ended_at,
           request_url, request_headers, response_status, response_headers, response_body,
           started_at, duration_ms, status_code, error, triggered_at)
), recorded AS (
    UPDATE deliveries d
    SET status = v.status, status_message = v.message, attempt_count = v.number,
        next_attempt_at = v.next_at, ended_at = v.ended_at,
        lease_until = NULL, lease_owner = NULL,
        request_url = v.request_url, request_headers = v.request_headers::json,
        response_status = v.response_status, response_headers = v.response_headers::json,
        response_body = v.response_body,
        fifo_position = CASE WHEN v.ended_at IS NULL THEN d.fifo_position END
    FROM v, webhooks w
    WHERE d.id = v.id AND d.triggered_at = v.triggered_at AND w.id = d.webhook_id
    RETURNING d.id, d.webhook_id, d.tenant_id, v.next_at, w.ordering = 'fifo' AS ordered
), attempts AS (
    INSERT INTO delivery_attempts (delivery_id, number, delivery_triggered_at, started_at,
                                   duration_ms, status_code, error)
    SELECT v.id, v.number, v.triggered_at, v.started_at, v.duration_ms,
           v.status_code, v.error
    FROM v JOIN recorded ON recorded.id = v.id
    ON CONFLICT DO NOTHING
), due AS (
    INSERT INTO due_webhooks (webhook_id, tenant_id, due_at)
    SELECT webhook_id, min(tenant_id), min(coalesce(next_at, $18)) FROM recorded
    WHERE next_at IS NOT NULL OR ordered
    GROUP BY webhook_id
    ON CONFLICT (webhook_id) DO UPDATE SET due_at = least(due_webhooks.due_at, excluded.due_at)
    RETURNING 1
)
SELECT (SELECT count(*) FROM recorded),
       (SELECT pg_notify($17, '')::text FROM (SELECT 1 FROM due LIMIT 1) AS any_due)
"""


def record_arguments(results: list[Result], at: datetime) -> tuple[Any, ...]:
    """The outcomes as columns (arrays), the channel that announces retries and an
    ordered webhook's next delivery, and the time its next may go."""
    columns: tuple[list[Any], ...] = tuple([] for _ in range(16))
    for result in results:
        attempt = result.attempt
        row = (
            result.delivery_id,
            result.status,
            result.status_message,
            attempt.number,
            result.next_attempt_at,
            at if result.next_attempt_at is None else None,
            result.request_url,
            _json(result.request_headers),
            result.response_status,
            _json(result.response_headers),
            result.response_body,
            attempt.started_at,
            attempt.duration_ms,
            attempt.status_code,
            attempt.error,
            result.triggered_at,
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return (*columns, WORK, at)


# A fan-out's deliveries in one statement: PostgreSQL routes the rows to their day
# partitions within one execution, where a statement a row (executemany) set the routing up
# for each: 30-33 against 47-80 us of server CPU a row, measured on a bench database.
INSERT_DELIVERIES = sa.text("""
INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, cloud_events,
                        triggered_at, trigger, status, status_message, attempt_count,
                        next_attempt_at, fifo_position, task_id, event_received_at)
SELECT id, tenant_id, webhook_id, event_id, event_type, cloud_events, triggered_at, trigger,
       'pending', '', 0, next_attempt_at, fifo_position, task_id, event_received_at
FROM unnest(
    CAST(:id AS text[]), CAST(:tenant_id AS text[]), CAST(:webhook_id AS text[]),
    CAST(:event_id AS text[]), CAST(:event_type AS text[]), CAST(:cloud_events AS bool[]),
    CAST(:triggered_at AS timestamptz[]), CAST(:trigger AS text[]),
    CAST(:next_attempt_at AS timestamptz[]), CAST(:fifo_position AS timestamptz[]),
    CAST(:task_id AS text[]), CAST(:event_received_at AS timestamptz[])
) AS new(id, tenant_id, webhook_id, event_id, event_type, cloud_events, triggered_at,
         trigger, next_attempt_at, fifo_position, task_id, event_received_at)
""")


_INSERTED = tuple(INSERT_DELIVERIES.compile().params)  # NewDelivery's fields, by name


def insert_deliveries_arguments(planned: Sequence[NewDelivery]) -> dict[str, list[Any]]:
    """The new deliveries as columns (arrays) of `INSERT_DELIVERIES`."""
    return {name: [getattr(new, name) for new in planned] for name in _INSERTED}


def _json(value: object) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
