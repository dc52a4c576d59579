"""``/api/v1/users/me``: who the API key belongs to (as Qlik Cloud's users API answers it)."""

from __future__ import annotations

from fastapi import APIRouter

from hookline.api.deps import Caller
from hookline.api.errors import error_responses
from hookline.api.schemas import Me

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("/me", response_model=Me, responses=error_responses())
async def get_me(caller: Caller) -> Me:
    """The caller's user, tenant and role (operator keys have neither user nor tenant)."""
    return Me(id=caller.user_id, tenant_id=caller.tenant_id, role=caller.role.value)
