"""An event, as hookline stores it once accepted, whichever of the three forms it came in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    """A system event of one tenant. ``id`` is unique within the tenant and stays the same
    on every delivery, retry and resend, so receivers can de-duplicate."""

    id: str
    tenant_id: str
    type: str
    time: datetime
    source: str
    data: Any
    user_id: str | None = None
    owner_id: str | None = None
    space_id: str | None = None
    top_level_resource_id: str | None = None
    # Other extension attributes the producer sent (legacy `extensions`, CloudEvents
    # extension attributes), delivered as they came.
    extensions: dict[str, Any] = field(default_factory=dict)
