"""The pure rules of a webhook's pacing (hookline.pacing): what a rate limit allows now,
when it allows more, and an ordered webhook's bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hookline.pacing import WINDOW, Pace, allowance, room_again_at

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def test_the_allowance_is_the_limit_less_what_the_window_holds() -> None:
    assert allowance(5, []) == 5
    assert allowance(5, [(NOW - 300 * MS, 2), (NOW - 100 * MS, 1)]) == 2
    assert allowance(5, [(NOW, 7)]) == 0  # never negative, even past the limit


def test_a_webhook_with_room_may_be_sent_more_now() -> None:
    assert room_again_at(5, [], NOW) == NOW
    assert room_again_at(5, [(NOW - 200 * MS, 4)], NOW) == NOW


def test_a_full_window_has_room_again_when_enough_of_its_sends_have_left_it() -> None:
    older, newer = NOW - 500 * MS, NOW - 100 * MS
    # 3 + 2 = 5: the older send leaving it makes room.
    assert room_again_at(5, [(newer, 2), (older, 3)], NOW) == older + WINDOW
    # 3 + 4 = 7 against a limit of 4: the older leaving leaves 4, still no room; both must.
    assert room_again_at(4, [(older, 3), (newer, 4)], NOW) == newer + WINDOW


def test_an_ordered_webhook_has_one_attempt_at_a_time_and_others_the_endpoint_bound() -> None:
    assert Pace(ordered=True).bound == 1
    assert Pace(rate_limit=10).bound is None
    assert Pace().bound is None
    assert not Pace().paced
    assert Pace(rate_limit=1).paced
    assert Pace(ordered=True).paced
