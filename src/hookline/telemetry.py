"""What an operator sees of each delivery attempt: it is counted in the metrics, and logged
as ``HOOKLINE_ATTEMPT_LOG`` says.

- ``failures`` (the default): every attempt that did not succeed (outcome ``retry``,
  ``failed`` or ``gone``) is one ``attempt`` line with all its fields, as with ``all``;
  successful attempts are summed up per webhook into one ``attempts`` line (count and
  duration median, mean and max) for every window of ``SUMMARY_SECONDS``, written by the
  first attempt observed after the window, or by ``flush()`` (at shutdown).
- ``all``: one ``attempt`` line per attempt, successes included.
- ``none``: no attempt lines; the metrics and the delivery history remain.

A JSON line per successful attempt took more CPU than all the rest of the attempt's
metrics and logging (``python -m bench.observe_micro``), and said little that the delivery
history and the metrics do not.
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from collections.abc import Callable

import structlog

from hookline import metrics
from hookline.deliveries import Attempt, Claimed, Result
from hookline.settings import AttemptLogMode

log = structlog.get_logger()
SUMMARY_SECONDS = 10.0
SAMPLE_SIZE = 1000  # durations kept per webhook and window, for the median

_count_attempt = metrics.count_attempt
_observe_duration = metrics.ATTEMPT_SECONDS.observe
_observe_lag = metrics.LAG_SECONDS.observe


class _Successes:
    """One webhook's successful attempts in the current window."""

    __slots__ = ("count", "max_ms", "sample", "total_ms")

    def __init__(self) -> None:
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.sample: list[float] = []  # a uniform sample of the durations (reservoir)


Window = dict[tuple[str, str], _Successes]


class SuccessSummaries:
    """Successful attempts summed up per (tenant, webhook) over windows of ``seconds``.

    A window opens with its first success; the first ``add`` or ``flush_if_due`` after it
    has lasted ``seconds`` writes it out, one line per webhook, as does ``flush()``. Safe
    to use from several threads (tests run servers in threads of one process)."""

    def __init__(
        self, seconds: float = SUMMARY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._random = random.Random()
        self._window: Window = {}
        self._opened = 0.0
        self._due = math.inf  # no window open

    def add(self, tenant_id: str, webhook_id: str, duration_ms: float) -> None:
        moment = self._clock()
        ended: tuple[Window, float] | None = None
        with self._lock:
            if moment >= self._due:
                ended = self._take(moment)
            if not self._window:
                self._opened = moment
                self._due = moment + self.seconds
            key = (tenant_id, webhook_id)
            successes = self._window.get(key)
            if successes is None:
                successes = self._window[key] = _Successes()
            successes.count += 1
            successes.total_ms += duration_ms
            if duration_ms > successes.max_ms:
                successes.max_ms = duration_ms
            if len(successes.sample) < SAMPLE_SIZE:
                successes.sample.append(duration_ms)
            else:
                kept = self._random.randrange(successes.count)
                if kept < SAMPLE_SIZE:
                    successes.sample[kept] = duration_ms
        if ended is not None:
            _write(*ended)

    def flush_if_due(self) -> None:
        if self._clock() >= self._due:
            self.flush()

    def flush(self) -> None:
        """Write out the open window now, whatever its age."""
        with self._lock:
            ended = self._take(self._clock())
        _write(*ended)

    def _take(self, moment: float) -> tuple[Window, float]:
        window, self._window = self._window, {}
        self._due = math.inf
        return window, moment - self._opened


def _write(window: Window, seconds: float) -> None:
    for (tenant_id, webhook_id), successes in window.items():
        log.info(
            "attempts",
            tenant=tenant_id,
            webhook=webhook_id,
            outcome="success",
            count=successes.count,
            duration_ms_p50=round(statistics.median(successes.sample), 1),
            duration_ms_mean=round(successes.total_ms / successes.count, 1),
            duration_ms_max=round(successes.max_ms, 1),
            seconds=round(seconds, 1),
        )


class AttemptObserver:
    """Counts every attempt, and logs it as ``mode`` says (see the module's docstring)."""

    def __init__(
        self, mode: AttemptLogMode = "failures", summaries: SuccessSummaries | None = None
    ) -> None:
        self.mode: AttemptLogMode = mode
        self.summaries = summaries if summaries is not None else SuccessSummaries()

    def configure(self, mode: AttemptLogMode) -> None:
        """Log attempts as ``mode`` says from now on (successes summed so far are written)."""
        self.summaries.flush()
        self.mode = mode

    def flush(self) -> None:
        """Write the pending summary of successes: at shutdown, once no attempt is left
        running. ``logs.configure`` has it called at exit too, so that the last window's
        successes are logged however the process ends (short of a kill)."""
        self.summaries.flush()

    def observe(self, claimed: Claimed, result: Result) -> None:
        """Count the attempt and log it (no secrets)."""
        outcome = _outcome(result)
        attempt = result.attempt
        _count_attempt(claimed.tenant_id, outcome)
        _observe_duration(attempt.duration_ms / 1000)
        mode = self.mode
        if outcome == "success":
            _observe_lag(time.time() - claimed.triggered_at.timestamp())
            if mode == "failures":
                self.summaries.add(claimed.tenant_id, claimed.webhook_id, attempt.duration_ms)
                return
        elif mode == "failures":
            self.summaries.flush_if_due()
        if mode != "none":
            _log_attempt(claimed, attempt, outcome)


def _log_attempt(claimed: Claimed, attempt: Attempt, outcome: str) -> None:
    log.info(
        "attempt",
        tenant=claimed.tenant_id,
        webhook=claimed.webhook_id,
        delivery=claimed.delivery_id,
        event_id=claimed.event_id,  # `event` is structlog's own: the message
        attempt=attempt.number,
        outcome=outcome,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=round(attempt.duration_ms, 1),
    )


def _outcome(result: Result) -> str:
    if result.status == "success":
        return "success"
    if result.disable is not None:
        return "gone"
    return "retry" if result.next_attempt_at is not None else "failed"


# The process's observer, and its methods as functions: ``configure`` once from the
# settings, ``observe`` each attempt, ``flush`` at shutdown.
OBSERVER = AttemptObserver()
configure = OBSERVER.configure
observe = OBSERVER.observe
flush = OBSERVER.flush
