"""Delivery ids: UUIDv7, time-ordered."""

from __future__ import annotations

import uuid

from hookline.deliveries import new_delivery_id

MOMENT_NS = 1_795_000_000_123_456_789  # 2026-11-18, 123 ms past the second


def test_a_delivery_id_is_a_version_7_uuid_of_the_rfc_variant() -> None:
    parsed = uuid.UUID(new_delivery_id())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_a_delivery_id_starts_with_its_millisecond() -> None:
    parsed = uuid.UUID(new_delivery_id(MOMENT_NS))
    assert parsed.int >> 80 == MOMENT_NS // 1_000_000


def test_later_ids_sort_after_earlier_ones() -> None:
    earlier = [new_delivery_id(MOMENT_NS) for _ in range(100)]
    later = [new_delivery_id(MOMENT_NS + 1_000_000) for _ in range(100)]
    assert max(earlier) < min(later)


def test_ids_of_the_same_millisecond_differ() -> None:
    assert len({new_delivery_id(MOMENT_NS) for _ in range(10_000)}) == 10_000
