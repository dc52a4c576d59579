"""The delivery queue: events in, fanned out later, deliveries claimed fairly with leases,
outcomes recorded in batches, history read and purged. Deliveries and attempts are rows;
the row is the retry.

Publishing stores each event once, due for fan-out, in a short transaction. Fan-out
leases a bounded set of events (a few of each tenant), matches them outside any
transaction, and stores their deliveries (which reference the event: no body of their
own) while marking them done, in one transaction. ``due_webhooks`` holds, for every
webhook with deliveries that have a due time, a lower bound of the earliest: claims walk
it, longest due first, and take deliveries per webhook (`shares.allocate`), so one
tenant's backlog is never scanned for another's due work.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from hookline import envelopes
from hookline.deliveries import (
    Attempt,
    Claimed,
    Delivery,
    Disable,
    FailurePolicy,
    NewDelivery,
    QueueStats,
    Result,
)
from hookline.events import Event, from_record, to_record, webhook_disabled
from hookline.operational import Ended, Run, Subject, follow_all, raised, takes_part
from hookline.pacing import (
    FAN_OUT_RECHECK,
    SEND_WITHIN,
    WINDOW,
    Pace,
    allowance,
    room_again_at,
)
from hookline.paging import Page
from hookline.quotas import Bucket, Quota, QuotaExceeded, take
from hookline.shares import Head, Room, allocate
from hookline.store.base import DeliveryQuery, Expansion, Pending, Purged
from hookline.store.keyset import read_page
from hookline.store.schema import (
    UTCDateTime,
    deliveries,
    delivery_attempts,
    due_webhooks,
    events,
    publish_quotas,
    tenants,
    webhook_event_types,
    webhook_sends,
    webhooks,
)
from hookline.store.sql_base import EVENTS, WORK, Priority, SqlBase
from hookline.store.webhook_rows import with_event_types
from hookline.webhooks import Webhook

_DELIVERY_SORT_COLUMNS = {"status": deliveries.c.status, "triggeredAt": deliveries.c.triggered_at}
# Events outlive their deliveries' retention by this much, so a delivery made late (a slow
# fan-out, a resend, a retry) never loses its body.
EVENT_MARGIN = timedelta(days=1)
# The due time of a webhook with nothing queued: its entry stays, out of every claim's
# reach, until new work moves it back (cheaper than deleting and inserting it again).
NOTHING_DUE = datetime(9999, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _events_keyed(keys: Iterable[tuple[str, str]]) -> sa.ColumnElement[bool]:
    """Events by (tenant, id), as a condition each database answers from the primary key
    (SQLite scans the table for a list of row values)."""
    by_tenant: dict[str, list[str]] = {}
    for tenant_id, event_id in keys:
        by_tenant.setdefault(tenant_id, []).append(event_id)
    return sa.or_(
        *(
            sa.and_(events.c.tenant_id == tenant_id, events.c.id.in_(ids))
            for tenant_id, ids in by_tenant.items()
        )
    )


class _Unindexed(sa.sql.functions.FunctionElement[datetime]):
    """A column SQLite's planner must not look it up by: it would walk the tenant's part of
    the fan-out index (all its waiting events) instead of taking the keys from the primary
    key. SQLite's own way to say so is a unary plus; other databases get the column."""

    inherit_cache = True
    type = UTCDateTime()


@compiles(_Unindexed)
def _compile_unindexed(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    [column] = element.clauses
    return compiler.process(column, **kw)


@compiles(_Unindexed, "sqlite")
def _compile_unindexed_sqlite(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{_compile_unindexed(element, compiler, **kw)}"


UNPACED = Pace()
PACED = sa.or_(webhooks.c.rate_limit.is_not(None), webhooks.c.ordering != "none")

# A claim whose webhooks had fewer due deliveries than their shares shares the rest again,
# up to this many passes in all.
_CLAIM_PASSES = 3


class DeliveryQueue(SqlBase, abc.ABC):
    # Publishing ------------------------------------------------------------------------

    async def publish(
        self, tenant_id: str, batch: list[Event], quota: Quota | None = None
    ) -> list[Event]:
        """Store the events not seen before in the tenant, due for fan-out, in one short
        transaction; return them. Over the tenant's quota, store nothing: QuotaExceeded."""
        first: dict[str, Event] = {}
        for event in batch:
            first.setdefault(event.id, event)
        records = [(event, to_record(event)) for event in first.values()]

        def work(conn: sa.Connection) -> list[Event]:
            if quota is not None:
                size = sum(len(record) for _, record in records)
                self._take_quota(conn, tenant_id, quota, len(records), size)
            return self._insert_events(conn, tenant_id, records)

        new = await self._write(work)
        if new:
            self._arrived(EVENTS)
        return new

    def _take_quota(
        self, conn: sa.Connection, tenant_id: str, quota: Quota, count: int, size: int
    ) -> None:
        at = self._now()
        bucket = _locked_bucket(conn, tenant_id)
        if bucket is None:
            # The tenant's first publish makes its bucket, full: concurrent first publishes
            # then wait for each other on its row, as later ones do.
            full = quota.full(at)
            conn.execute(
                self._insert(publish_quotas)
                .values(
                    tenant_id=tenant_id,
                    events=full.events,
                    bytes=full.bytes,
                    updated_at=full.updated_at,
                )
                .on_conflict_do_nothing(index_elements=["tenant_id"])
            )
            bucket = _locked_bucket(conn, tenant_id)
            assert bucket is not None
        after, wait = take(bucket, quota, count, size, at)
        if wait > 0:
            raise QuotaExceeded(wait)
        conn.execute(
            publish_quotas.update()
            .where(publish_quotas.c.tenant_id == tenant_id)
            .values(events=after.events, bytes=after.bytes, updated_at=after.updated_at)
        )

    def _insert_events(
        self, conn: sa.Connection, tenant_id: str, records: list[tuple[Event, str]]
    ) -> list[Event]:
        received = self._now()
        rows = [
            {
                "tenant_id": tenant_id,
                "id": event.id,
                "type": event.type,
                "received_at": arrival,
                "payload": record,
                "fanout_at": received,
            }
            for (event, record), arrival in zip(
                records, self._arrivals_from(received, len(records)), strict=True
            )
        ]
        inserted = self._insert_new_events(conn, tenant_id, rows)
        if inserted:
            self._announce(conn, EVENTS)
        return [event for event, _ in records if event.id in inserted]

    def _insert_new_events(
        self, conn: sa.Connection, tenant_id: str, rows: list[dict[str, Any]]
    ) -> set[str]:
        """Insert the events whose id the tenant has not used; return their ids."""
        statement = (
            self._insert(events)
            .on_conflict_do_nothing(index_elements=["tenant_id", "id"])
            .returning(events.c.id)
        )
        return {row.id for row in conn.execute(statement, rows)}

    def _arrivals_from(self, received: datetime, count: int) -> list[datetime]:
        """The times events arrive at: from ``received``, each a microsecond after the one
        before, in this process too (the clock counts milliseconds), so an ordered
        webhook's deliveries go in the order hookline took the events in."""
        first = max(received, self._last_arrival + _MICROSECOND)
        arrivals = [first + n * _MICROSECOND for n in range(count)]
        if arrivals:
            self._last_arrival = arrivals[-1]
        return arrivals

    # Fan-out ---------------------------------------------------------------------------

    async def claim_fanout(
        self, *, limit: int, per_tenant: int, lease_seconds: float, skip: Collection[str] = ()
    ) -> Pending:
        """Lease up to ``limit`` events due for fan-out, at most ``per_tenant`` of each
        tenant (none of the tenants in ``skip``): each tenant's longest waiting first, then
        each one's second, and so on. The work is bounded by the tenants with waiting
        events and the events taken, never by how many wait."""
        now = self._now()
        until = now + timedelta(seconds=lease_seconds)

        def work(conn: sa.Connection) -> list[Event]:
            tenants = list(conn.execute(_waiting_tenants(now, limit, skip)).scalars())
            if not tenants:
                return []
            picks = sa.union_all(
                *(
                    sa.select(
                        sa.select(events.c.tenant_id, events.c.id)
                        .where(events.c.tenant_id == tenant_id, events.c.fanout_at <= now)
                        .order_by(events.c.fanout_at)
                        .limit(per_tenant)
                        .subquery()
                    )
                    for tenant_id in tenants
                )
            )
            queues: dict[str, list[str]] = {tenant_id: [] for tenant_id in tenants}
            for tenant_id, event_id in conn.execute(picks):
                queues[tenant_id].append(event_id)
            order = {key: n for n, key in enumerate(itertools.islice(_in_turns(queues), limit))}
            if not order:
                return []
            leased = conn.execute(
                events.update()
                .where(_events_keyed(order), _Unindexed(events.c.fanout_at) <= now)
                .values(fanout_at=until)
                .returning(events.c.tenant_id, events.c.id, events.c.type, events.c.payload)
            )
            found = [from_record(*row) for row in leased]
            return sorted(found, key=lambda event: order[(event.tenant_id, event.id)])

        return Pending(await self._write(work, Priority.DELIVERY), until)

    async def subscribed(self, tenant_id: str, types: Collection[str]) -> list[Webhook]:
        """The tenant's enabled webhooks subscribed to any of ``types``, by id."""
        return await self._read(lambda conn: _subscribed(conn, tenant_id, types))

    async def expand(self, lease: datetime, expansions: list[Expansion]) -> int:
        """Store what the events still leased with ``lease`` make, and mark them done, in
        one transaction: an event is fanned out once, whatever crashes."""
        if not expansions:
            return 0

        def work(conn: sa.Connection) -> int:
            keys = [(item.event.tenant_id, item.event.id) for item in expansions]
            received = {
                (tenant_id, event_id): at
                for tenant_id, event_id, at in conn.execute(
                    events.update()
                    .where(_events_keyed(keys), events.c.fanout_at == lease)
                    .values(fanout_at=None)
                    .returning(events.c.tenant_id, events.c.id, events.c.received_at)
                )
            }
            kept = [
                item for item in expansions if (item.event.tenant_id, item.event.id) in received
            ]
            made = _to_live_webhooks(
                conn, [new for item in kept for new in item.deliveries], received
            )
            self._insert_deliveries(conn, made)
            self._mark_due(
                conn, [(new.webhook_id, new.tenant_id, new.next_attempt_at) for new in made]
            )
            deleted = [
                (item.event.tenant_id, item.deleted_owner) for item in kept if item.deleted_owner
            ]
            self._disable(conn, _owned(conn, deleted))
            return len(made)

        made = await self._write(work, Priority.DELIVERY)
        if made:
            self._arrived(WORK)
        return made

    @abc.abstractmethod
    def _insert_deliveries(self, conn: sa.Connection, planned: Sequence[NewDelivery]) -> None:
        """Insert ``planned`` as pending deliveries, in as few statements as the database
        allows (each store has its own: the hot path of a fan-out)."""

    def _mark_due(
        self, conn: sa.Connection, due: Iterable[tuple[str, str, datetime | None]]
    ) -> None:
        """Keep ``due_webhooks`` a lower bound: each webhook's entry no later than ``due``."""
        earliest: dict[str, tuple[str, datetime]] = {}
        for webhook_id, tenant_id, at in due:
            if at is not None and (webhook_id not in earliest or at < earliest[webhook_id][1]):
                earliest[webhook_id] = (tenant_id, at)
        if not earliest:
            return
        insert = self._insert(due_webhooks)
        upsert = insert.on_conflict_do_update(
            index_elements=["webhook_id"],
            set_={"due_at": self._earlier(due_webhooks.c.due_at, insert.excluded.due_at)},
        )
        conn.execute(
            upsert,
            [
                {"webhook_id": webhook_id, "tenant_id": tenant_id, "due_at": at}
                for webhook_id, (tenant_id, at) in sorted(earliest.items())
            ],
        )
        self._announce(conn, WORK)

    def _reorder(self, conn: sa.Connection, webhook: Webhook) -> None:
        """Put a webhook's queued deliveries in its queue, by when they were made, or take
        them out of it; then look at the webhook again."""
        queued = deliveries.update().where(
            deliveries.c.webhook_id == webhook.id, deliveries.c.next_attempt_at.is_not(None)
        )
        ordered = webhook.ordering == "fifo"
        conn.execute(queued.values(fifo_position=deliveries.c.triggered_at if ordered else None))
        self._mark_due(conn, [(webhook.id, webhook.tenant_id, self._now())])

    def _disable(self, conn: sa.Connection, disables: Iterable[Disable]) -> int:
        """Disable webhooks still enabled, each raising its ``hookline.webhook.disabled``
        event in the same transaction; return how many were disabled."""
        disabled = 0
        for disable in disables:
            at = self._now()
            row = conn.execute(
                webhooks.update()
                .where(webhooks.c.id == disable.webhook_id, webhooks.c.enabled.is_(True))
                .values(
                    enabled=False,
                    disabled_reason=disable.reason,
                    disabled_reason_code=disable.code,
                    updated_at=at,
                )
                .returning(
                    webhooks.c.tenant_id, webhooks.c.owner_id, webhooks.c.name, webhooks.c.url
                )
            ).first()
            if row is None:
                continue
            disabled += 1
            event = webhook_disabled(
                tenant_id=row.tenant_id,
                webhook_id=disable.webhook_id,
                owner_id=row.owner_id,
                name=row.name,
                url=row.url,
                code=disable.code,
                reason=disable.reason,
                at=at,
            )
            self._insert_events(conn, row.tenant_id, [(event, to_record(event))])
        return disabled

    # Claims ----------------------------------------------------------------------------

    async def claim(
        self, *, owner: str, limit: int, lease_seconds: float, room: Room
    ) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries within ``room``: from the webhooks due
        longest, round-robin over tenants and then webhooks, oldest due first in each (an
        ordered webhook's first in its queue), a rate-limited one's within its limit."""
        return await self._claim(owner, limit, lease_seconds, room, paced_only=False)

    async def _claim(
        self, owner: str, limit: int, lease_seconds: float, room: Room, *, paced_only: bool
    ) -> list[Claimed]:
        """``paced_only``: from rate-limited and ordered webhooks only."""
        started = self._now()

        def work(conn: sa.Connection) -> tuple[list[Claimed], list[datetime]]:
            # The time the transaction runs, which may be later than when it was asked
            # for: a rate limit's window counts from it.
            now = self._now()
            until = now + timedelta(seconds=lease_seconds)
            heads, paces = self._heads(conn, now, limit, room, paced_only)
            heads = _of_free_tenants(conn, heads)
            everywhere = _with_leases_elsewhere(conn, owner, now, room, heads)
            sends = _recent_sends(conn, now, [w for w, pace in paces.items() if pace.rate_limit])
            taken: Counter[str] = Counter()
            tenants_taken: Counter[str] = Counter()

            def webhook_room(webhook_id: str) -> int:
                pace = paces.get(webhook_id, UNPACED)
                left = everywhere.webhook_room(webhook_id, pace.bound) - taken[webhook_id]
                if pace.rate_limit is not None:
                    left = min(
                        left, allowance(pace.rate_limit, sends[webhook_id]) - taken[webhook_id]
                    )
                return left

            touched: set[str] = set()
            leased: list[Leased] = []
            ordered = frozenset(w for w, pace in paces.items() if pace.ordered)
            for _ in range(_CLAIM_PASSES):
                shares = allocate(
                    heads,
                    limit - len(leased),
                    webhook_room,
                    lambda tenant: everywhere.tenant_room(tenant) - tenants_taken[tenant],
                )
                if not shares:
                    break
                got = self._lease(conn, Lease(owner, now, until, shares, ordered))
                leased += got
                touched.update(shares)
                counts = Counter(row.webhook_id for row in got)
                taken.update(counts)
                tenants_taken.update(row.tenant_id for row in got)
                if len(got) == sum(shares.values()):
                    break
                # A webhook that gave less than its share has no more due: another pass
                # shares what it left among the rest.
                heads = [
                    head
                    for head in heads
                    if counts[head.webhook_id] == shares.get(head.webhook_id, 0)
                ]
            claimed = _claimed(conn, leased) if leased else []
            # Sends are noted as late as the transaction allows: each must start within
            # SEND_WITHIN of its note.
            noted_at = self._now()
            self._note_sends(conn, noted_at, sends, taken)
            if plain := sorted(touched - paces.keys()):
                self._refresh_heads(conn, plain)
            next_due = [
                self._refresh_paced(conn, now, webhook_id, pace, sends.get(webhook_id, []))
                for webhook_id, pace in paces.items()
            ]
            return _sent_by(claimed, sends.keys(), noted_at + SEND_WITHIN), next_due

        claimed, next_due = await self._write(work, Priority.DELIVERY)
        # A paced webhook due again in a moment (its rate limit's window, an ordered one
        # waiting for a fan-out) announces nothing when it is: this process looks then.
        if soon := [at for at in next_due if started < at < NOTHING_DUE]:
            self._wake_at(min(soon))
        return claimed

    def _heads(
        self, conn: sa.Connection, now: datetime, limit: int, room: Room, paced_only: bool
    ) -> tuple[list[Head], dict[str, Pace]]:
        """The webhooks with due deliveries that have room: each tenant's longest due
        first, then each tenant's second, and so on (so a tenant with many due webhooks
        never fills a claim's heads alone); locked on PostgreSQL so that one claim at a
        time takes from each. With them, the paces of the rate-limited and ordered ones."""
        due = sa.select(
            due_webhooks.c.webhook_id,
            due_webhooks.c.due_at,
            sa.func.row_number()
            .over(partition_by=due_webhooks.c.tenant_id, order_by=due_webhooks.c.due_at)
            .label("turn"),
        ).where(due_webhooks.c.due_at <= now)
        if full := room.full_webhooks():
            due = due.where(due_webhooks.c.webhook_id.not_in(full))
        if full := room.full_tenants():
            due = due.where(due_webhooks.c.tenant_id.not_in(full))
        if paced_only:
            due = due.join(webhooks, webhooks.c.id == due_webhooks.c.webhook_id).where(PACED)
        ranked = due.subquery()
        heads = (
            sa.select(
                due_webhooks.c.webhook_id,
                due_webhooks.c.tenant_id,
                webhooks.c.rate_limit,
                webhooks.c.ordering,
            )
            .join(ranked, ranked.c.webhook_id == due_webhooks.c.webhook_id)
            .join(webhooks, webhooks.c.id == due_webhooks.c.webhook_id)
            .where(ranked.c.turn <= limit)
            .order_by(ranked.c.turn, ranked.c.due_at)
            .limit(limit)
            .with_for_update(of=due_webhooks, skip_locked=True)
        )
        found: list[Head] = []
        paces: dict[str, Pace] = {}
        for webhook_id, tenant_id, rate_limit, ordering in conn.execute(heads):
            found.append(Head(webhook_id, tenant_id))
            pace = Pace(rate_limit, ordering == "fifo")
            if pace.paced:
                paces[webhook_id] = pace
        return found, paces

    def _lease(self, conn: sa.Connection, lease: Lease) -> list[Leased]:
        """Lease what ``lease.shares`` says of each webhook's due deliveries, oldest first
        (an ordered webhook's first in its queue, if it is due), in one statement."""
        picks = sa.union_all(
            *(
                first_in_queue(webhook_id, lease.now)
                if webhook_id in lease.ordered
                else _earliest_due(webhook_id, count, lease.now)
                for webhook_id, count in lease.shares.items()
            )
        ).subquery()
        leased = conn.execute(
            deliveries.update()
            .where(deliveries.c.id == picks.c.id, deliveries.c.next_attempt_at <= lease.now)
            .values(lease_until=lease.until, lease_owner=lease.owner, next_attempt_at=lease.until)
            .returning(*(deliveries.c[name] for name in Leased._fields), picks.c.due_at)
        )
        rows = sorted(leased, key=lambda row: row[-1])
        return [Leased(*row[:-1]) for row in rows]

    def _note_sends(
        self,
        conn: sa.Connection,
        now: datetime,
        sends: dict[str, list[tuple[datetime, int]]],
        taken: Counter[str],
    ) -> None:
        """Keep the rate-limited webhooks' sends of the last window, with this claim's."""
        if not sends:
            return
        conn.execute(
            webhook_sends.delete().where(
                webhook_sends.c.webhook_id.in_(sorted(sends)),
                webhook_sends.c.sent_at <= now - WINDOW,
            )
        )
        noted = [webhook_id for webhook_id in sorted(sends) if taken[webhook_id]]
        if noted:
            insert = self._insert(webhook_sends)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["webhook_id", "sent_at"],
                    set_={"count": webhook_sends.c.count + insert.excluded["count"]},
                ),
                [
                    {"webhook_id": webhook_id, "sent_at": now, "count": taken[webhook_id]}
                    for webhook_id in noted
                ],
            )
        for webhook_id in noted:
            sends[webhook_id].append((now, taken[webhook_id]))

    def _refresh_paced(
        self,
        conn: sa.Connection,
        now: datetime,
        webhook_id: str,
        pace: Pace,
        sends: list[tuple[datetime, int]],
    ) -> datetime:
        """Move a rate-limited or ordered webhook's entry to when it may next be sent
        something: its first in queue's due time (an ordered webhook), or its earliest
        (another), but not before its rate limit has room again; return that time."""
        due_at = (
            _ordered_due(conn, webhook_id, now) if pace.ordered else _earliest(conn, webhook_id)
        )
        if due_at is None:
            due_at = NOTHING_DUE
        elif pace.rate_limit is not None:
            due_at = max(due_at, room_again_at(pace.rate_limit, sends, now))
        conn.execute(
            due_webhooks.update()
            .where(due_webhooks.c.webhook_id == webhook_id)
            .values(due_at=due_at)
        )
        return due_at

    def _refresh_heads(self, conn: sa.Connection, webhook_ids: list[str]) -> None:
        """Move these webhooks' entries to their earliest due time (a lease's end counts:
        a crashed worker's deliveries fall due by themselves), or out of reach
        (``NOTHING_DUE``) when none has a due time: one statement."""
        earliest = sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.webhook_id == due_webhooks.c.webhook_id,
            deliveries.c.next_attempt_at.is_not(None),
        )
        conn.execute(
            due_webhooks.update()
            .where(due_webhooks.c.webhook_id.in_(webhook_ids))
            .values(
                due_at=sa.func.coalesce(
                    earliest.scalar_subquery(), sa.literal(NOTHING_DUE, UTCDateTime)
                )
            )
        )

    async def release(self, delivery_ids: list[str], owner: str) -> None:
        """Make deliveries leased to ``owner`` but never attempted due at once (a process
        stopping, a resend that found no free slot)."""
        if not delivery_ids:
            return
        at = self._now()

        def work(conn: sa.Connection) -> None:
            released = conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(delivery_ids), deliveries.c.lease_owner == owner)
                .values(next_attempt_at=at, lease_until=None, lease_owner=None)
                .returning(deliveries.c.webhook_id, deliveries.c.tenant_id)
            )
            self._mark_due(conn, [(webhook, tenant, at) for webhook, tenant in released])

        await self._write(work, Priority.DELIVERY)
        self._arrived(WORK)

    async def renew(self, delivery_ids: list[str], owner: str, lease_seconds: float) -> None:
        if not delivery_ids:
            return
        until = self._now() + timedelta(seconds=lease_seconds)
        renewal = (
            deliveries.update()
            .where(deliveries.c.id.in_(delivery_ids), deliveries.c.lease_owner == owner)
            .values(lease_until=until, next_attempt_at=until)
        )

        def work(conn: sa.Connection) -> None:
            conn.execute(renewal)

        await self._write(work, Priority.DELIVERY)

    # Outcomes --------------------------------------------------------------------------

    async def record(self, results: list[Result], failures: FailurePolicy) -> None:
        """Record attempt outcomes in one transaction; a delivery deleted meanwhile (its
        webhook was deleted) is skipped. Webhooks are disabled as the results say, or when
        their deliveries keep failing; their failing runs are followed, raising their
        operational events (hookline.operational), in the same transaction."""
        if not results:
            return

        def work(conn: sa.Connection) -> None:
            at = self._now()
            # The webhooks' rows first, then the deliveries': the order a deletion takes.
            runs = _locked_runs(conn, {result.webhook_id for result in results if result.moves_run})
            ended = _newly_ended(
                conn, [result for result in results if result.webhook_id in runs], at
            )
            live = self._write_outcomes(conn, results, at)
            kept = [result for result in results if result.delivery_id in live]
            # An ordered webhook's next delivery may go once the one before it has ended.
            self._mark_due(
                conn,
                [
                    (result.webhook_id, result.tenant_id, result.next_attempt_at)
                    if result.next_attempt_at or live[result.delivery_id] is None
                    else (result.webhook_id, result.tenant_id, at)
                    for result in kept
                ],
            )
            gone = [result.disable for result in kept if result.disable is not None]
            failing = {result.webhook_id for result in kept if result.final_failure}
            if failing:
                gone += self._keep_failing(conn, failing, failures)
            interval = timedelta(seconds=failures.exhausted_interval_seconds)
            for webhook_id, its_ended in ended.items():
                self._follow_run(conn, runs[webhook_id], its_ended, interval)
            if gone:
                self._disable(conn, gone)

        await self._write(work, Priority.DELIVERY)

    def _follow_run(
        self, conn: sa.Connection, row: Any, ended: list[Ended], interval: timedelta
    ) -> None:
        """Move a webhook's failing run (its ``_RUN`` row) past its deliveries that just
        ended, and raise the events that says (hookline.operational)."""
        before = Run(
            row.failing_since, row.run_failures, row.run_unreported, row.exhausted_event_at
        )
        run, notices = follow_all(before, ended, interval)
        if run != before:
            conn.execute(
                webhooks.update()
                .where(webhooks.c.id == row.id)
                .values(
                    failing_since=run.failing_since,
                    run_failures=run.failures,
                    run_unreported=run.unreported,
                    exhausted_event_at=run.exhausted_at,
                )
            )
        subject = Subject(row.id, row.tenant_id, row.owner_id, row.name, row.url)
        made = [raised(subject, notice) for notice in notices]
        if made:
            self._insert_events(conn, subject.tenant_id, [(new, to_record(new)) for new in made])

    def _write_outcomes(
        self, conn: sa.Connection, results: list[Result], at: datetime
    ) -> dict[str, datetime | None]:
        """Update the deliveries that still exist and add their attempts; return their ids,
        each with its place in an ordered webhook's queue (None for others')."""
        found = conn.execute(
            # Locked, so a webhook deleted meanwhile cannot take them away before the
            # attempts are written.
            sa.select(deliveries.c.id, deliveries.c.fifo_position, deliveries.c.triggered_at)
            .where(deliveries.c.id.in_([result.delivery_id for result in results]))
            .with_for_update()
        ).all()
        live = {row.id: row.fifo_position for row in found}
        triggered = {row.id: row.triggered_at for row in found}
        kept = [result for result in results if result.delivery_id in live]
        if kept:
            conn.execute(
                _RECORD_OUTCOME,
                [_outcome_row(result, at, live[result.delivery_id]) for result in kept],
            )
            conn.execute(
                self._insert(delivery_attempts).on_conflict_do_nothing(),
                [_attempt_row(result, triggered[result.delivery_id]) for result in kept],
            )
        return live

    def _keep_failing(
        self, conn: sa.Connection, webhook_ids: Iterable[str], policy: FailurePolicy
    ) -> list[Disable]:
        since = self._now() - timedelta(seconds=policy.window_seconds)
        ended = deliveries.c.ended_at >= since
        counted = deliveries.c.trigger != "test"
        found = []
        for webhook_id in webhook_ids:
            result = conn.execute(
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.webhook_id == webhook_id, ended, counted)
                .group_by(deliveries.c.status)
            )
            counts: dict[str, int] = dict(result.all())
            if counts.get("success", 0) == 0 and counts.get("fail", 0) >= policy.threshold:
                reason = (
                    f"every delivery of the last {policy.window_seconds / 3600:g} h failed "
                    f"after all retries ({counts['fail']} deliveries)"
                )
                found.append(Disable(webhook_id, "delivery-failures", reason))
        return found

    async def add_delivery(
        self,
        new: NewDelivery,
        *,
        owner: str,
        lease_seconds: float,
        example: Event | None = None,
    ) -> bool:
        """Store a delivery leased to ``owner``, who sends it now (a resend or a test
        send), with the example event a test send delivers (stored as its tenant's, never
        fanned out): True. One to an ordered webhook (a test send is not part of the
        stream: it goes at once), or to a rate-limited one at its limit, joins the
        webhook's queue instead: False."""
        now = self._now()
        until = now + timedelta(seconds=lease_seconds)
        webhook_id, tenant_id = new.webhook_id, new.tenant_id

        def work(conn: sa.Connection) -> bool:
            if example is not None:
                conn.execute(events.insert().values(**_unannounced(example, new.triggered_at)))
            pace = _pace(conn, webhook_id)
            ordered = pace.ordered and new.trigger != "test"
            position = new.triggered_at if ordered else None
            # The event is renewed to the delivery's time (below).
            queued = dataclasses.replace(
                new,
                next_attempt_at=now,
                fifo_position=position,
                event_received_at=new.triggered_at,
            )
            self._insert_deliveries(conn, [queued])
            # The webhook's entry after the webhook's row (the delivery's key to it), as the
            # record of outcomes takes them; locked, as a claim locks it, on PostgreSQL.
            self._mark_due(conn, [(webhook_id, tenant_id, now if ordered else until)])
            sends = _recent_sends(conn, now, [webhook_id] if pace.rate_limit else [])
            leased = not ordered and (
                pace.rate_limit is None or allowance(pace.rate_limit, sends[webhook_id]) > 0
            )
            if leased:
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == new.id)
                    .values(lease_owner=owner, lease_until=until, next_attempt_at=until)
                )
                self._note_sends(conn, now, sends, Counter({webhook_id: 1}))
            elif not ordered:
                self._mark_due(conn, [(webhook_id, tenant_id, now)])
            # The event lives as long as its newest delivery's history (and only ever
            # moves later: deliveries find it from below).
            conn.execute(
                events.update()
                .where(
                    events.c.tenant_id == tenant_id,
                    events.c.id == new.event_id,
                    events.c.received_at < new.triggered_at,
                )
                .values(received_at=new.triggered_at)
            )
            return leased

        leased = await self._write(work)
        if not leased:
            self._arrived(WORK)
        return leased

    async def queue_stats(self) -> QueueStats:
        due = deliveries.c.next_attempt_at

        def work(conn: sa.Connection) -> QueueStats:
            pending = conn.execute(sa.select(sa.func.count()).where(due.is_not(None))).scalar_one()
            oldest = conn.execute(
                sa.select(sa.func.min(due_webhooks.c.due_at)).where(
                    due_webhooks.c.due_at < NOTHING_DUE
                )
            ).scalar()
            disabled = conn.execute(
                sa.select(sa.func.count())
                .select_from(webhooks)
                .where(webhooks.c.enabled.is_(False))
            ).scalar_one()
            fanout = conn.execute(
                sa.select(sa.func.count()).where(events.c.fanout_at.is_not(None))
            ).scalar_one()
            return QueueStats(int(pending), _aware(oldest), int(disabled), int(fanout))

        return await self._read(work)

    # History ---------------------------------------------------------------------------

    async def get_delivery(
        self, tenant_id: str, webhook_id: str, delivery_id: str
    ) -> Delivery | None:
        query = _WITH_PAYLOAD.where(
            deliveries.c.tenant_id == tenant_id,
            deliveries.c.webhook_id == webhook_id,
            deliveries.c.id == delivery_id,
        )
        found = await self._read(lambda conn: _with_attempts(conn, conn.execute(query).all()))
        return found[0] if found else None

    async def list_deliveries(self, query: DeliveryQuery) -> Page[Delivery]:
        sort_value = _DELIVERY_SORT_COLUMNS[query.sort.key]
        statement = _WITH_PAYLOAD.add_columns(sort_value.label("sort_value")).where(
            deliveries.c.tenant_id == query.tenant_id,
            deliveries.c.webhook_id == query.webhook_id,
        )
        if query.event_type is not None:
            statement = statement.where(deliveries.c.event_type == query.event_type)
        if query.status is not None:
            statement = statement.where(deliveries.c.status == query.status)

        def work(conn: sa.Connection) -> Page[Delivery]:
            window = read_page(
                conn,
                statement,
                sort_value=sort_value,
                row_id=deliveries.c.id,
                sort=query.sort,
                cursor=query.cursor,
                limit=query.limit,
            )
            return Page(_with_attempts(conn, window.rows), window.next, window.prev)

        return await self._read(work)

    async def purge(self, before: datetime, batch: int) -> Purged:
        """Delete up to ``batch`` deliveries triggered before ``before``, and up to ``batch``
        events fanned out and received ``EVENT_MARGIN`` before it (which ends their
        de-duplication)."""

        def work(conn: sa.Connection) -> Purged:
            return purge_rows(conn, before, batch, HISTORY_TABLES)

        return await self._write(work, Priority.BULK)


class HistoryTables(NamedTuple):
    """The tables (or, on PostgreSQL, the partitions) a purge deletes rows of."""

    events: sa.TableClause
    deliveries: sa.TableClause
    attempts: sa.TableClause


HISTORY_TABLES = HistoryTables(events, deliveries, delivery_attempts)


def purge_rows(conn: sa.Connection, before: datetime, batch: int, tables: HistoryTables) -> Purged:
    d, a, e = tables.deliveries.c, tables.attempts.c, tables.events.c
    old = sa.select(d.id).where(d.triggered_at < before).limit(batch)
    ids = list(conn.execute(old).scalars())
    if ids:
        conn.execute(tables.attempts.delete().where(a.delivery_id.in_(ids)))
        conn.execute(tables.deliveries.delete().where(d.id.in_(ids)))
    old_events = sa.select(e.tenant_id, e.id).where(
        e.received_at < before - EVENT_MARGIN, e.fanout_at.is_(None)
    )
    key = sa.tuple_(e.tenant_id, e.id)
    gone = conn.execute(tables.events.delete().where(key.in_(old_events.limit(batch))))
    return Purged(deliveries=len(ids), events=gone.rowcount)


class Lease(NamedTuple):
    owner: str
    now: datetime
    until: datetime
    shares: dict[str, int]
    ordered: frozenset[str] = frozenset()


class Leased(NamedTuple):
    """A delivery just leased, as the lease statement returns it."""

    id: str
    tenant_id: str
    webhook_id: str
    event_id: str
    event_type: str
    cloud_events: bool
    triggered_at: datetime
    attempt_count: int
    trigger: str


_CLAIMED_WEBHOOK = sa.select(
    webhooks.c.id,
    webhooks.c.enabled,
    webhooks.c.url,
    webhooks.c.headers,
    webhooks.c.sealed_secret,
    webhooks.c.sealed_encrypted_headers,
    webhooks.c.encrypted_header_names,
    webhooks.c.check_certificate_revocation,
    webhooks.c.sealed_previous_secret,
    webhooks.c.secret_rotating_until,
    webhooks.c.failing_since,
)


def _claimed(conn: sa.Connection, leased: list[Leased]) -> list[Claimed]:
    """What a worker needs to send the leased deliveries: the webhooks' current settings,
    and each body, rendered once per event and envelope."""
    targets = {
        row.id: Target._make(row[1:])
        for row in conn.execute(
            _CLAIMED_WEBHOOK.where(webhooks.c.id.in_({row.webhook_id for row in leased}))
        )
    }
    keys = list({(row.tenant_id, row.event_id) for row in leased})
    payloads = {
        (row.tenant_id, row.id): row.payload
        for row in conn.execute(
            sa.select(events.c.tenant_id, events.c.id, events.c.payload).where(_events_keyed(keys))
        )
    }
    return to_claimed(leased, targets, payloads)


class Target(NamedTuple):
    """A webhook's settings as a claim hands them to the worker."""

    enabled: bool
    url: str
    headers: dict[str, str]
    sealed_secret: str | None
    sealed_encrypted_headers: str | None
    encrypted_header_names: list[str]
    check_certificate_revocation: bool
    sealed_previous_secret: str | None
    secret_rotating_until: datetime | None
    failing_since: datetime | None


def to_claimed(
    leased: list[Leased],
    targets: dict[str, Target],
    payloads: dict[tuple[str, str], str | None],
) -> list[Claimed]:
    """The leased deliveries with their webhooks' settings and bodies, each body rendered
    once per event and envelope."""
    bodies: dict[tuple[str, str, bool], bytes] = {}
    claimed = []
    for row in leased:
        key = (row.tenant_id, row.event_id, row.cloud_events)
        if key not in bodies:
            payload = payloads.get((row.tenant_id, row.event_id))
            bodies[key] = _body(
                row.tenant_id, row.event_id, row.event_type, payload, row.cloud_events
            )
        webhook = targets[row.webhook_id]
        claimed.append(
            Claimed(
                delivery_id=row.id,
                tenant_id=row.tenant_id,
                webhook_id=row.webhook_id,
                event_id=row.event_id,
                triggered_at=row.triggered_at,
                body=bodies[key],
                attempt_count=row.attempt_count,
                webhook_enabled=webhook.enabled,
                url=webhook.url,
                headers=dict(webhook.headers),
                sealed_secret=webhook.sealed_secret,
                sealed_encrypted_headers=webhook.sealed_encrypted_headers,
                encrypted_header_names=tuple(webhook.encrypted_header_names),
                check_revocation=webhook.check_certificate_revocation,
                sealed_previous_secret=webhook.sealed_previous_secret,
                secret_rotating_until=webhook.secret_rotating_until,
                may_recover=webhook.failing_since is not None,
                test=row.trigger == "test",
            )
        )
    return claimed


def _body(
    tenant_id: str, event_id: str, event_type: str, payload: str | None, cloud_events: bool
) -> bytes:
    """A delivery's body: its event, in its envelope (``{}`` if the event is gone)."""
    if payload is None:
        return b"{}"
    event = from_record(tenant_id, event_id, event_type, payload)
    return envelopes.render(event, cloud_events=cloud_events)


# A webhook's failing run (hookline.operational.Run), and what its events say of it.
_RUN = sa.select(
    webhooks.c.id,
    webhooks.c.failing_since,
    webhooks.c.run_failures,
    webhooks.c.run_unreported,
    webhooks.c.exhausted_event_at,
    webhooks.c.tenant_id,
    webhooks.c.owner_id,
    webhooks.c.name,
    webhooks.c.url,
)


def _locked_runs(conn: sa.Connection, webhook_ids: set[str]) -> dict[str, Any]:
    """The ``_RUN`` rows of these webhooks (those still there), locked in id order."""
    if not webhook_ids:
        return {}
    locked = _RUN.where(webhooks.c.id.in_(webhook_ids)).order_by(webhooks.c.id).with_for_update()
    return {row.id: row for row in conn.execute(locked)}


def _newly_ended(
    conn: sa.Connection, results: list[Result], at: datetime
) -> dict[str, list[Ended]]:
    """The deliveries these results end that count in failing runs, by webhook, in the
    results' order. Read, and locked, before the outcomes are written, so a result
    recorded already (a transaction tried again, a worker whose lease ran out) is left
    out."""
    ending = [result for result in results if result.next_attempt_at is None]
    if not ending:
        return {}
    rows = {
        row.id: row
        for row in conn.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.event_id,
                deliveries.c.event_type,
                deliveries.c.attempt_count,
            )
            .where(deliveries.c.id.in_([result.delivery_id for result in ending]))
            .order_by(deliveries.c.id)
            .with_for_update()
        )
    }
    found: dict[str, list[Ended]] = {}
    for result in ending:
        row = rows.get(result.delivery_id)
        if (
            row is not None
            and row.attempt_count < result.attempt.number
            and takes_part(row.event_type)
        ):
            found.setdefault(result.webhook_id, []).append(_ended(result, row, at))
    return found


def _ended(result: Result, row: Any, at: datetime) -> Ended:
    return Ended(
        delivery_id=result.delivery_id,
        event_id=row.event_id,
        event_type=row.event_type,
        succeeded=result.status == "success",
        attempts=result.attempt.number,
        status_code=result.attempt.status_code,
        status_message=result.status_message,
        at=at,
    )


_RECORD_OUTCOME = (
    deliveries.update()
    .where(deliveries.c.id == sa.bindparam("delivery_id"))
    .values(
        status=sa.bindparam("status"),
        status_message=sa.bindparam("status_message"),
        attempt_count=sa.bindparam("attempt_count"),
        next_attempt_at=sa.bindparam("next_attempt_at"),
        ended_at=sa.bindparam("ended_at"),
        lease_until=None,
        lease_owner=None,
        request_url=sa.bindparam("request_url"),
        request_headers=sa.bindparam("request_headers"),
        response_status=sa.bindparam("response_status"),
        response_headers=sa.bindparam("response_headers"),
        response_body=sa.bindparam("response_body"),
        fifo_position=sa.bindparam("fifo_position"),
    )
)


def _outcome_row(result: Result, at: datetime, position: datetime | None) -> dict[str, Any]:
    """The outcome's columns; a delivery that ended leaves its ordered webhook's queue."""
    ended = result.next_attempt_at is None
    return {
        "delivery_id": result.delivery_id,
        "status": result.status,
        "status_message": result.status_message,
        "attempt_count": result.attempt.number,
        "next_attempt_at": result.next_attempt_at,
        "ended_at": at if ended else None,
        "fifo_position": None if ended else position,
        "request_url": result.request_url,
        "request_headers": result.request_headers,
        "response_status": result.response_status,
        "response_headers": result.response_headers,
        "response_body": result.response_body,
    }


def _attempt_row(result: Result, triggered_at: datetime) -> dict[str, Any]:
    attempt = result.attempt
    return {
        "delivery_id": result.delivery_id,
        "number": attempt.number,
        "delivery_triggered_at": triggered_at,
        "started_at": attempt.started_at,
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "error": attempt.error,
    }


_WITH_PAYLOAD = sa.select(deliveries, events.c.payload).join(
    events,
    sa.and_(
        events.c.tenant_id == deliveries.c.tenant_id,
        events.c.id == deliveries.c.event_id,
        # From the day it was received on (PostgreSQL looks in those days only).
        events.c.received_at
        >= sa.func.coalesce(deliveries.c.event_received_at, sa.literal(_EPOCH, UTCDateTime)),
    ),
    isouter=True,
)


def _with_attempts(conn: sa.Connection, rows: Iterable[Any]) -> list[Delivery]:
    rows = list(rows)
    attempts: dict[str, list[Attempt]] = {row.id: [] for row in rows}
    if rows:
        found = conn.execute(
            sa.select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(list(attempts)))
            .order_by(delivery_attempts.c.number)
        )
        for a in found:
            attempts[a.delivery_id].append(
                Attempt(a.number, a.started_at, a.duration_ms, a.status_code, a.error)
            )
    return [_delivery(row, attempts[row.id]) for row in rows]


_DELIVERY_COLUMNS = [
    field.name for field in dataclasses.fields(Delivery) if field.name not in ("attempts", "body")
]


def _delivery(row: Any, attempts: list[Attempt]) -> Delivery:
    body = _body(row.tenant_id, row.event_id, row.event_type, row.payload, row.cloud_events)
    return Delivery(
        **{name: row._mapping[name] for name in _DELIVERY_COLUMNS},
        body=body.decode(),
        attempts=tuple(attempts),
    )


def _unannounced(event: Event, received_at: datetime) -> dict[str, Any]:
    """The row of an event stored as fanned out already: no fan-out ever takes it."""
    return {
        "tenant_id": event.tenant_id,
        "id": event.id,
        "type": event.type,
        "received_at": received_at,
        "payload": to_record(event),
        "fanout_at": None,
    }


def _aware(moment: datetime | str | None) -> datetime | None:
    """An aggregate loses the column's type: SQLite answers text, naive, in UTC."""
    if moment is None:
        return None
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _locked_bucket(conn: sa.Connection, tenant_id: str) -> Bucket | None:
    row = conn.execute(
        sa.select(publish_quotas).where(publish_quotas.c.tenant_id == tenant_id).with_for_update()
    ).first()
    return Bucket(row.events, row.bytes, row.updated_at) if row else None


def _of_free_tenants(conn: sa.Connection, heads: list[Head]) -> list[Head]:
    """The heads whose tenants no other claim is taking from, those tenants locked until
    this claim commits (on PostgreSQL; SQLite's claims take turns anyway): two claims never
    share a tenant's room, each blind to the leases the other takes."""
    if not heads:
        return []
    free = set(
        conn.execute(
            sa.select(tenants.c.id)
            .where(tenants.c.id.in_(sorted({head.tenant_id for head in heads})))
            .with_for_update(skip_locked=True, key_share=True)
        ).scalars()
    )
    return [head for head in heads if head.tenant_id in free]


def _with_leases_elsewhere(
    conn: sa.Connection, owner: str, now: datetime, room: Room, heads: list[Head]
) -> Room:
    """``room`` with the leases other processes hold on the heads' webhooks and tenants
    counted in: each webhook's and tenant's bound holds across processes."""
    return room.with_held(
        _leased_elsewhere(
            conn, owner, now, _PER_WEBHOOK, {head.webhook_id for head in heads}, room.per_webhook
        ),
        _leased_elsewhere(
            conn, owner, now, _PER_TENANT, {head.tenant_id for head in heads}, room.per_tenant
        ),
    )


# What a claim counts other processes' leases by: the deliveries' column, and the ids it holds.
_PER_WEBHOOK = (deliveries.c.webhook_id, webhooks.c.id)
_PER_TENANT = (deliveries.c.tenant_id, tenants.c.id)


def _leased_elsewhere(
    conn: sa.Connection,
    owner: str,
    now: datetime,
    per: tuple[sa.Column[str], sa.Column[str]],
    ids: Collection[str],
    bound: int,
) -> Counter[str]:
    """How many deliveries of each of these webhooks or tenants (``per``) other processes
    hold leases on: their attempts in flight, and at most a few more (claimed and not
    started, or done and not yet recorded). Counted as the one-statement claim counts them
    (hookline.store.postgres_delivery): up to ``bound``, which leaves no room either way, in
    the owners on either side of ``owner``."""
    if not ids:
        return Counter()
    counted, id_column = per
    keys = sa.select(id_column.label("id")).where(id_column.in_(sorted(ids))).subquery()

    def held(side: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        leased = (
            sa.select(counted)
            .where(
                counted == keys.c.id,
                deliveries.c.lease_owner.is_not(None),
                side,
                deliveries.c.lease_until > now,
            )
            .limit(bound)
            .correlate(keys)
            .subquery()
        )
        return sa.select(sa.func.count()).select_from(leased).scalar_subquery()

    lease_owner = deliveries.c.lease_owner
    counts = sa.select(keys.c.id, held(lease_owner < owner) + held(lease_owner > owner))
    return Counter(dict(conn.execute(counts).all()))


def _pace(conn: sa.Connection, webhook_id: str) -> Pace:
    row = conn.execute(
        sa.select(webhooks.c.rate_limit, webhooks.c.ordering).where(webhooks.c.id == webhook_id)
    ).first()
    return UNPACED if row is None else Pace(row.rate_limit, row.ordering == "fifo")


def _sent_by(
    claimed: list[Claimed], rate_limited: Iterable[str], send_by: datetime
) -> list[Claimed]:
    """The claimed deliveries, those of rate-limited webhooks to start by ``send_by``."""
    limited = set(rate_limited)
    return [
        dataclasses.replace(item, send_by=send_by) if item.webhook_id in limited else item
        for item in claimed
    ]


def _recent_sends(
    conn: sa.Connection, now: datetime, webhook_ids: list[str]
) -> dict[str, list[tuple[datetime, int]]]:
    """What claims took of each of these webhooks within the last window."""
    sends: dict[str, list[tuple[datetime, int]]] = {webhook_id: [] for webhook_id in webhook_ids}
    if webhook_ids:
        recent = sa.select(webhook_sends).where(
            webhook_sends.c.webhook_id.in_(webhook_ids), webhook_sends.c.sent_at > now - WINDOW
        )
        for webhook_id, sent_at, count in conn.execute(recent):
            sends[webhook_id].append((sent_at, count))
    return sends


def _earliest_due(webhook_id: str, count: int, now: datetime) -> sa.Select[Any]:
    """The ids and due times of a webhook's ``count`` earliest due deliveries."""
    return sa.select(
        sa.select(deliveries.c.id, deliveries.c.next_attempt_at.label("due_at"))
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(count)
        .subquery()
    )


def _queue_head(webhook_id: str) -> sa.Select[Any]:
    """An ordered webhook's first delivery in its queue."""
    return (
        sa.select(
            deliveries.c.id,
            deliveries.c.tenant_id,
            deliveries.c.next_attempt_at,
            deliveries.c.fifo_position,
        )
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.fifo_position.is_not(None))
        .order_by(deliveries.c.fifo_position, deliveries.c.id)
        .limit(1)
    )


def _waits_for_fanout(
    tenant_id: sa.ColumnElement[str], position: sa.ColumnElement[datetime]
) -> sa.Exists:
    """Whether the tenant has an event received before ``position`` still to fan out."""
    return sa.exists().where(
        events.c.tenant_id == tenant_id,
        events.c.fanout_at.is_not(None),
        events.c.received_at < position,
    )


def first_in_queue(webhook_id: str, now: datetime) -> sa.Select[Any]:
    """The id and due time of an ordered webhook's first delivery in its queue, if it is
    due and no earlier event may still make one that goes before it."""
    head = _queue_head(webhook_id).subquery()
    return sa.select(
        sa.select(head.c.id, head.c.next_attempt_at.label("due_at"))
        .where(
            head.c.next_attempt_at <= now,
            ~_waits_for_fanout(head.c.tenant_id, head.c.fifo_position),
        )
        .subquery()
    )


def _ordered_due(conn: sa.Connection, webhook_id: str, now: datetime) -> datetime | None:
    """When an ordered webhook's first delivery in its queue may go (None: it has none)."""
    head = conn.execute(_queue_head(webhook_id)).first()
    if head is None or head.next_attempt_at is None or head.next_attempt_at > now:
        return None if head is None else head.next_attempt_at
    waits = sa.select(
        _waits_for_fanout(sa.literal(head.tenant_id), sa.literal(head.fifo_position, UTCDateTime))
    )
    return now + FAN_OUT_RECHECK if conn.execute(waits).scalar() else head.next_attempt_at


def _earliest(conn: sa.Connection, webhook_id: str) -> datetime | None:
    """A webhook's earliest due time (a lease's end counts)."""
    due = deliveries.c.next_attempt_at
    earliest = (
        sa.select(due)
        .where(deliveries.c.webhook_id == webhook_id, due.is_not(None))
        .order_by(due)
        .limit(1)
    )
    return conn.execute(earliest).scalar()


def _subscribed(conn: sa.Connection, tenant_id: str, types: Collection[str]) -> list[Webhook]:
    subscribed = (
        sa.select(webhooks)
        .where(
            webhooks.c.tenant_id == tenant_id,
            webhooks.c.enabled.is_(True),
            webhooks.c.id.in_(
                sa.select(webhook_event_types.c.webhook_id).where(
                    webhook_event_types.c.tenant_id == tenant_id,
                    webhook_event_types.c.event_type.in_(types),
                )
            ),
        )
        .order_by(webhooks.c.id)
    )
    return with_event_types(conn, conn.execute(subscribed).all())


def _to_live_webhooks(
    conn: sa.Connection, made: list[NewDelivery], received: dict[tuple[str, str], datetime]
) -> list[NewDelivery]:
    """The deliveries whose webhook still exists (one deleted since the events were
    matched gets none), an ordered webhook's placed in its queue by when hookline received
    their event. The webhooks are kept from deletion and from a change of ordering until
    the transaction ends."""
    if not made:
        return made
    ordering = dict(
        conn.execute(
            sa.select(webhooks.c.id, webhooks.c.ordering)
            .where(webhooks.c.id.in_({new.webhook_id for new in made}))
            .with_for_update(read=True)
        ).all()
    )
    placed = []
    for new in made:
        if new.webhook_id not in ordering:
            continue
        arrival = received[(new.tenant_id, new.event_id)]
        ordered = ordering[new.webhook_id] == "fifo" and new.next_attempt_at is not None
        placed.append(
            dataclasses.replace(
                new, event_received_at=arrival, fifo_position=arrival if ordered else None
            )
        )
    return placed


def _owned(conn: sa.Connection, owners: list[tuple[str, str]]) -> list[Disable]:
    """The user-level webhooks of these (tenant, user) pairs, to disable."""
    found: list[Disable] = []
    for tenant_id, owner_id in owners:
        owned = sa.select(webhooks.c.id).where(
            webhooks.c.tenant_id == tenant_id,
            webhooks.c.level == "user",
            webhooks.c.owner_id == owner_id,
        )
        found += [
            Disable(webhook_id, "owner-deleted", f"its owner {owner_id} was deleted")
            for webhook_id in conn.execute(owned).scalars()
        ]
    return found


def _waiting_tenants(now: datetime, limit: int, skip: Collection[str]) -> sa.Select[str]:
    """Up to ``limit`` tenants with events due for fan-out, longest waiting first: the
    distinct tenants of the fan-out index found by skipping from one to the next (a
    recursive query), each tenant's earliest from the same index."""
    waiting = events.c.fanout_at.is_not(None)
    found = (
        sa.select(sa.func.min(events.c.tenant_id).label("tenant_id"))
        .where(waiting)
        .cte("waiting_tenants", recursive=True)
    )
    following = (
        sa.select(sa.func.min(events.c.tenant_id))
        .where(waiting, events.c.tenant_id > found.c.tenant_id)
        .scalar_subquery()
    )
    found = found.union_all(sa.select(following).where(found.c.tenant_id.is_not(None)))
    earliest = (
        sa.select(sa.func.min(events.c.fanout_at))
        .where(waiting, events.c.tenant_id == found.c.tenant_id)
        .scalar_subquery()
    )
    due = (
        sa.select(found.c.tenant_id, earliest.label("due_at"))
        .where(found.c.tenant_id.is_not(None))
        .subquery()
    )
    tenants = sa.select(due.c.tenant_id).where(due.c.due_at <= now)
    if skip:
        tenants = tenants.where(due.c.tenant_id.not_in(skip))
    return tenants.order_by(due.c.due_at).limit(limit)


def _in_turns(queues: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    """(tenant, event) keys: each tenant's first in the order given, then each one's
    second, and so on."""
    for turn in itertools.zip_longest(*queues.values()):
        for tenant_id, event_id in zip(queues, turn, strict=True):
            if event_id is not None:
                yield tenant_id, event_id
