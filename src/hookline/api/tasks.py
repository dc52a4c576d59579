"""``POST /api/v1/webhooks/{id}/actions/recover`` and ``/api/v1/webhooks/{id}/tasks``:
hookline's own recover and replay (``hookline.recover``), beside the Qlik-compatible API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

from hookline.api.deps import Caller, ServicesDep
from hookline.api.errors import error_responses
from hookline.api.limits import DepthLimitedRoute
from hookline.api.pages import Limit
from hookline.api.schemas import Timestamp, WireModel
from hookline.recover import Only, RecoverRequest, Task, TaskStatus

router = APIRouter(prefix="/api/v1/webhooks/{id}", tags=["webhooks"], route_class=DepthLimitedRoute)


class TaskOut(WireModel):
    id: str
    type: Literal["recover"]
    webhook_id: str
    status: TaskStatus = Field(
        description="queued (not started yet), running, done, or failed (see error)."
    )
    only: Only
    since: Timestamp
    until: Timestamp
    total: int | None = Field(
        description="The events received in the window, which the task looks through; "
        "null until it has counted them (its first step)."
    )
    done: int = Field(description="The events of the window looked through so far.")
    recovered: int = Field(
        description="The deliveries the task has made so far (each of one event, due at once "
        "in the queue; the history shows them with this task's id)."
    )
    created_at: Timestamp
    created_by_user_id: str
    finished_at: Timestamp | None
    error: str | None = Field(description="Why the task failed; null otherwise.")

    @classmethod
    def of(cls, task: Task) -> TaskOut:
        return cls(
            id=task.id,
            type="recover",
            webhook_id=task.webhook_id,
            status=task.status,
            only=task.only,
            since=task.window.since,
            until=task.window.until,
            total=task.total,
            done=task.done,
            recovered=task.recovered,
            created_at=task.created_at,
            created_by_user_id=task.created_by_user_id,
            finished_at=task.finished_at,
            error=task.error,
        )


class TaskList(WireModel):
    data: list[TaskOut]


@router.post(
    "/actions/recover",
    status_code=202,
    response_model=TaskOut,
    responses=error_responses(400, 403, 404),
    description="Send the webhook again what it missed in a window of time: the events "
    "whose latest delivery failed for good (`only` failed, the default), those it matches "
    "now but was never sent (missing), or every one of them and those that succeeded "
    "(all). Answers at once with the task, which runs in the background; the `Location` "
    "header is where to follow it. One recover at a time per webhook, and at most "
    "HOOKLINE_MAX_RECOVERS_PER_TENANT (5) per tenant (403 limit-reached).",
)
async def recover_webhook(
    id: str,
    request: Request,
    response: Response,
    services: ServicesDep,
    caller: Caller,
    recover: RecoverRequest,
) -> TaskOut:
    task = await services.tasks.recover(caller, id, recover)
    response.headers["Location"] = str(
        request.url_for("get_webhook_task", id=task.webhook_id, taskId=task.id)
    )
    return TaskOut.of(task)


@router.get("/tasks", response_model=TaskList, responses=error_responses(400, 403, 404))
async def list_webhook_tasks(
    id: str, services: ServicesDep, caller: Caller, limit: Limit = 20
) -> TaskList:
    """The webhook's recover tasks, newest first (finished ones are kept as long as the
    delivery history)."""
    return TaskList(
        data=[TaskOut.of(task) for task in await services.tasks.list(caller, id, limit)]
    )


@router.get("/tasks/{taskId}", response_model=TaskOut, responses=error_responses(403, 404))
async def get_webhook_task(id: str, taskId: str, services: ServicesDep, caller: Caller) -> TaskOut:
    """A recover task of the webhook, with its progress."""
    return TaskOut.of(await services.tasks.get(caller, id, taskId))
