"""Endpoint health's windows and buckets, and its figures' arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hookline.stats import WINDOWS, Backlog, EndpointStats, Figures, StatsQuery, WindowName


def _query(window: WindowName, until: datetime) -> StatsQuery:
    return StatsQuery("tenant", "webhook", WINDOWS[window], until)


def test_buckets_start_with_the_window_then_on_whole_multiples_of_their_size() -> None:
    until = datetime(2026, 3, 4, 10, 42, 7, tzinfo=UTC)

    hour = _query("1h", until).bucket_starts()
    assert hour[:3] == [
        datetime(2026, 3, 4, 9, 42, 7, tzinfo=UTC),
        datetime(2026, 3, 4, 9, 45, tzinfo=UTC),
        datetime(2026, 3, 4, 9, 50, tzinfo=UTC),
    ]
    assert hour[-1] == datetime(2026, 3, 4, 10, 40, tzinfo=UTC)
    assert len(hour) == 13

    day = _query("24h", until).bucket_starts()
    assert (day[0], day[1], day[-1], len(day)) == (
        until - timedelta(hours=24),
        datetime(2026, 3, 3, 11, tzinfo=UTC),
        datetime(2026, 3, 4, 10, tzinfo=UTC),
        25,
    )

    week = _query("7d", until).bucket_starts()
    assert (week[1], week[-1], len(week)) == (
        datetime(2026, 2, 25, 12, tzinfo=UTC),
        datetime(2026, 3, 4, 6, tzinfo=UTC),
        29,
    )


def test_a_window_ending_on_a_bucket_boundary_has_no_empty_last_bucket() -> None:
    until = datetime(2026, 3, 4, 12, tzinfo=UTC)
    starts = _query("1h", until).bucket_starts()
    assert (starts[0], starts[-1], len(starts)) == (
        datetime(2026, 3, 4, 11, tzinfo=UTC),
        datetime(2026, 3, 4, 11, 55, tzinfo=UTC),
        12,
    )


@given(
    st.sampled_from(list(WINDOWS)),
    st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ),
)
def test_buckets_cover_the_window_in_order_none_longer_than_its_size(
    window: WindowName, until: datetime
) -> None:
    query = _query(window, until)
    starts = query.bucket_starts()
    ends = [*starts[1:], until]
    assert starts[0] == query.since
    assert all(
        start < end <= start + query.window.bucket for start, end in zip(starts, ends, strict=True)
    )
    assert len(starts) <= query.window.span / query.window.bucket + 1


def test_figures_derive_failures_and_the_success_rate() -> None:
    assert Figures().success_rate is None
    figures = Figures(attempts=8, successes=6)
    assert (figures.failures, figures.success_rate) == (2, 0.75)


def test_the_backlog_age_is_counted_to_the_end_of_the_window() -> None:
    until = datetime(2026, 3, 4, 12, tzinfo=UTC)
    query = _query("24h", until)
    stats = EndpointStats(query, Figures(), (), Backlog(2, True, until - timedelta(minutes=3)))
    assert stats.oldest_backlog_age == timedelta(minutes=3)
    assert EndpointStats(query, Figures(), (), Backlog()).oldest_backlog_age is None
