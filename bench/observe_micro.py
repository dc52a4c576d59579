"""CPU microseconds per call of ``observe(claimed, result)``: the metrics and the log line of one
delivery attempt, as a worker pays them (JSON logs through orjson, written to /dev/null).

    PYTHONPATH=src python -m bench.observe_micro [--calls 20000] [--runs 7] [--attempt-log MODE]

Prints the median of ``--runs`` runs for successes, retries, and a mix of 99 successes to
1 retry; 200 webhooks of 20 tenants take turns, as on a busy worker.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from hookline import logs
from hookline.clock import now
from hookline.deliveries import Attempt, Claimed, Result
from hookline.telemetry import observe

AT = datetime(2026, 1, 1, tzinfo=UTC)
WEBHOOKS = 200
TENANTS = 20


def _claimed(number: int) -> Claimed:
    return Claimed(
        delivery_id=f"d{number}",
        tenant_id=f"tenant-{number % TENANTS}",
        webhook_id=f"webhook-{number % WEBHOOKS}",
        event_id=f"e{number}",
        triggered_at=now(),  # lags of a few seconds, as on a busy worker
        body="{}",
        attempt_count=0,
        webhook_enabled=True,
        url="https://hooks.example.com/in",
        headers={},
        sealed_secret=None,
        sealed_encrypted_headers=None,
        encrypted_header_names=(),
    )


def _result(claimed: Claimed, *, success: bool) -> Result:
    return Result(
        delivery_id=claimed.delivery_id,
        webhook_id=claimed.webhook_id,
        triggered_at=claimed.triggered_at,
        attempt=Attempt(1, AT, 3.21, 200 if success else 500, None),
        status="success" if success else "fail",
        status_message="HTTP 200" if success else "HTTP 500; will retry",
        next_attempt_at=None if success else AT,
        request_url=claimed.url,
        request_headers={},
        response_status=200 if success else 500,
        response_headers={},
        response_body="",
    )


def _run(pairs: list[tuple[Claimed, Result]], calls: int) -> float:
    """CPU microseconds per call over ``calls`` calls (CPU time: other processes on the
    machine do not count)."""
    count = len(pairs)
    started = time.process_time_ns()
    for number in range(calls):
        claimed, result = pairs[number % count]
        observe(claimed, result)
    return (time.process_time_ns() - started) / calls / 1000


def _median(measure: Callable[[], float], runs: int) -> float:
    measure()  # warm up: label children, the cached logger
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--attempt-log", help="HOOKLINE_ATTEMPT_LOG (when there is one)")
    args = parser.parse_args()
    out = sys.stdout
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # the log lines go nowhere, but are written
    logs.configure("json")
    if args.attempt_log:
        from hookline import telemetry  # absent before it was written

        telemetry.configure(args.attempt_log)
    claims = [_claimed(number) for number in range(WEBHOOKS * 5)]
    successes = [(claimed, _result(claimed, success=True)) for claimed in claims]
    retries = [(claimed, _result(claimed, success=False)) for claimed in claims]
    mixed = [retries[n] if n % 100 == 0 else successes[n] for n in range(len(claims))]
    for name, pairs in (("success", successes), ("retry", retries), ("99:1 mix", mixed)):
        per_call = _median(functools.partial(_run, pairs, args.calls), args.runs)
        print(f"{name:>9}: {per_call:6.2f} us CPU/attempt", file=out)


if __name__ == "__main__":
    main()
