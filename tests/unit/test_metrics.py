"""Tenant label values are bounded: the first tenants a process counts, then ``other``."""

from __future__ import annotations

from hookline.metrics import OTHER_TENANTS, TenantLabels


def test_the_first_tenants_keep_their_ids_and_later_ones_are_other() -> None:
    labels = TenantLabels(limit=2)
    assert [labels.label(t) for t in ("a", "b", "c", "a", "d", "b")] == [
        "a",
        "b",
        OTHER_TENANTS,
        "a",
        OTHER_TENANTS,
        "b",
    ]


def test_no_tenant_label_at_all_with_a_limit_of_zero() -> None:
    labels = TenantLabels(limit=0)
    assert {labels.label(t) for t in ("a", "b")} == {OTHER_TENANTS}
