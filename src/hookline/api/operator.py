"""``/api/v1/tenants``: the operator's API for tenants and their API keys."""

from __future__ import annotations

from fastapi import APIRouter

from hookline import accounts
from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.limits import DepthLimitedRoute
from hookline.api.schemas import ApiKeyIn, ApiKeyOut, TenantIn, TenantList, TenantOut
from hookline.auth import Principal, Role
from hookline.errors import InvalidInput, NotAllowed, NotFound

router = APIRouter(prefix="/api/v1/tenants", tags=["operator"], route_class=DepthLimitedRoute)


def _require_operator(caller: Principal) -> None:
    if caller.role is not Role.OPERATOR:
        raise NotAllowed("only an operator key can manage tenants")


@router.get("", response_model=TenantList, responses=error_responses(403))
async def list_tenants(services: ServicesDep, caller: Caller) -> TenantList:
    _require_operator(caller)
    return TenantList(data=[TenantOut.of(t) for t in await services.store.list_tenants()])


@router.post("", status_code=201, response_model=TenantOut, responses=error_responses(400, 403))
async def create_tenant(services: ServicesDep, caller: Caller, tenant: TenantIn) -> TenantOut:
    _require_operator(caller)
    return TenantOut.of(await accounts.create_tenant(services.store, tenant.name))


@router.post(
    "/{tenantId}/api-keys",
    status_code=201,
    response_model=ApiKeyOut,
    responses=error_responses(400, 403, 404),
)
async def create_api_key(
    tenantId: str,
    services: ServicesDep,
    caller: Caller,
    request: ApiKeyIn,
) -> ApiKeyOut:
    _require_operator(caller)
    tenant = await services.store.get_tenant(tenantId)
    if tenant is None:
        raise NotFound(f"no tenant {tenantId}")
    tenant_roles = [role.value for role in Role if role is not Role.OPERATOR]
    if request.role not in tenant_roles:
        raise InvalidInput.one("/role", f"must be one of {', '.join(tenant_roles)}")
    issued = await accounts.issue_key(services.store, Role(request.role), tenant, request.user_id)
    return ApiKeyOut(
        id=issued.id,
        key=issued.key,
        role=issued.role.value,
        tenant_id=issued.tenant_id,
        user_id=issued.user_id,
    )
