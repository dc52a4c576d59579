"""The processes a scenario runs: receivers, hookline, and a monitor of their CPU and memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.common import REPO, SECRET_KEY, VENV_BIN, Tls

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def child_env() -> dict[str, str]:
    """The environment of the processes the suite starts: no HOOKLINE_ settings of the
    caller's, and this checkout first on the path (its ``bench`` and its ``src``), so
    that a worktree's suite measures that worktree's hookline, whatever the venv has
    installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    paths = [str(REPO), *([str(REPO / "src")] if (REPO / "src" / "hookline").is_dir() else [])]
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    return env


# Receivers -------------------------------------------------------------------------------


class Receivers:
    """``workers`` receiver processes on one port (SO_REUSEPORT)."""

    def __init__(self, tls: Tls, port: int, workers: int, hang_seconds: float) -> None:
        self.tls = tls
        self.port = port
        self.workers = workers
        self.hang_seconds = hang_seconds
        self._procs: list[subprocess.Popen[str]] = []
        self._controls: list[int] = []
        self._session: aiohttp.ClientSession | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    async def start(self) -> None:
        for _ in range(self.workers):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.receiver",
                    "--port",
                    str(self.port),
                    "--cert",
                    str(self.tls.cert_chain),
                    "--key",
                    str(self.tls.key),
                    "--hang",
                    str(self.hang_seconds),
                ],
                env=child_env(),
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
            self._procs.append(proc)
        for proc in self._procs:
            line = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
            if not line.startswith("ready"):
                raise RuntimeError(f"receiver did not start: {line!r}")
            self._controls.append(int(line.split()[1]))
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self._procs:
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs, self._controls = [], []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def reset(self) -> None:
        assert self._session is not None
        for port in self._controls:
            async with self._session.post(f"http://127.0.0.1:{port}/reset") as response:
                response.raise_for_status()

    async def stats(self, lags: bool = False) -> dict[str, Any]:
        """Receipts summed over the workers, by class."""
        assert self._session is not None
        merged: dict[str, dict[str, Any]] = {}
        checked = bad = 0
        per_worker = []
        for port in self._controls:
            url = f"http://127.0.0.1:{port}/stats?lags={1 if lags else 0}"
            async with self._session.get(url) as response:
                got = await response.json()
            checked += got["checked"]
            bad += got["bad_signatures"]
            per_worker.append(sum(c["count"] for c in got["classes"].values()))
            for kind, tally in got["classes"].items():
                into = merged.setdefault(
                    kind, {"count": 0, "first": 0.0, "last": 0.0, "lags_ms": [], "seqs": []}
                )
                into["count"] += tally["count"]
                if tally["first"] and (not into["first"] or tally["first"] < into["first"]):
                    into["first"] = tally["first"]
                into["last"] = max(into["last"], tally["last"])
                into["lags_ms"].extend(tally.get("lags_ms", ()))
                into["seqs"].extend(tally.get("seqs", ()))
        return {
            "classes": merged,
            "checked": checked,
            "bad_signatures": bad,
            "per_worker": per_worker,
        }

    async def count(self, kinds: tuple[str, ...] = ("ok",)) -> int:
        got = await self.stats()
        return sum(got["classes"].get(k, {}).get("count", 0) for k in kinds)

    async def wait_for(
        self, expected: int, timeout: float, kinds: tuple[str, ...] = ("ok",)
    ) -> bool:
        """Wait until ``expected`` receipts of ``kinds`` arrived; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.count(kinds) >= expected:
                return True
            await asyncio.sleep(0.05)
        return False


# Monitoring ------------------------------------------------------------------------------


@dataclass
class Watched:
    name: str
    pids: list[int]
    procs: list[psutil.Process] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    peak_rss: int = 0
    rss_samples: list[tuple[float, int]] = field(default_factory=list)


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User and system CPU the processes have used so far (those gone count 0)."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


# A client backend's process title: "postgres: [cluster: ]user database host(port) activity".
_BACKEND_TITLE = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def postgres_pids(database: str | None = None) -> list[int]:
    """The PostgreSQL server's processes; with ``database``, without the client backends
    of other databases (another engineer's tests on the same server are not the run's)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] not in ("postgres", "postmaster"):
            continue
        title = " ".join(proc.info["cmdline"] or ())
        backend = _BACKEND_TITLE.match(title)
        if database is None or backend is None or backend.group(1) == database:
            found.append(proc.pid)
    return found


class Monitor:
    """CPU used by each group of processes between start and stop (in % of one core), and
    peak RSS (sampled every ``interval`` seconds), plus the machine's total CPU use."""

    def __init__(
        self,
        groups: dict[str, list[int]],
        interval: float = 0.25,
        postgres_database: str | None = None,
    ) -> None:
        self._groups = [Watched(name, pids) for name, pids in groups.items()]
        self._interval = interval
        self._postgres_database = postgres_database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._elapsed = 0.0
        self._sys_start: Any = None
        self._sys_end: Any = None

    def start(self) -> Monitor:
        for group in self._groups:
            group.procs = []
            for pid in group.pids:
                with contextlib.suppress(psutil.Error):
                    group.procs.append(psutil.Process(pid))
            group.cpu_start = cpu_seconds(group.procs)
        self._sys_start = psutil.cpu_times()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def add(self, name: str, pid: int) -> None:
        """Watch a process started after the monitor (its CPU counts from its start)."""
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            for group in self._groups:
                if group.name == name:
                    group.procs.append(proc)
                    return
            self._groups.append(Watched(name, [pid], [proc]))

    def _sample(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic() - self._started
            for group in self._groups:
                rss = 0
                for proc in group.procs:
                    with contextlib.suppress(psutil.Error):
                        rss += proc.memory_info().rss
                group.peak_rss = max(group.peak_rss, rss)
                group.rss_samples.append((round(now, 2), rss))
            self._stop.wait(self._interval)

    def stop(self) -> dict[str, Any]:
        self._elapsed = time.monotonic() - self._started
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sys_end = psutil.cpu_times()
        for group in self._groups:
            if group.name == "postgres":  # backends started meanwhile count from their start
                known = {proc.pid for proc in group.procs}
                for pid in postgres_pids(self._postgres_database):
                    if pid not in known:
                        with contextlib.suppress(psutil.Error):
                            group.procs.append(psutil.Process(pid))
            group.cpu_end = cpu_seconds(group.procs)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        elapsed = max(self._elapsed, 1e-9)
        start, end = self._sys_start, self._sys_end
        busy = (end.user + end.system + end.nice + end.irq + end.softirq) - (
            start.user + start.system + start.nice + start.irq + start.softirq
        )
        ours = sum(g.cpu_end - g.cpu_start for g in self._groups)
        out: dict[str, Any] = {
            "seconds": round(elapsed, 3),
            "machine_cpu_pct": round(100 * busy / elapsed, 1),  # of one core; 200 = both
            "unaccounted_cpu_pct": round(100 * (busy - ours) / elapsed, 1),
        }
        for group in self._groups:
            out[f"{group.name}_cpu_pct"] = round(
                100 * (group.cpu_end - group.cpu_start) / elapsed, 1
            )
            out[f"{group.name}_cpu_seconds"] = round(group.cpu_end - group.cpu_start, 4)
            if group.peak_rss:
                out[f"{group.name}_peak_rss_mb"] = round(group.peak_rss / 2**20, 1)
        return out

    def rss_series(self, name: str) -> list[tuple[float, int]]:
        for group in self._groups:
            if group.name == name:
                return group.rss_samples
        return []


# Databases -------------------------------------------------------------------------------


class Database:
    """A fresh, empty database: a SQLite file in ``workdir`` or a new PostgreSQL database."""

    def __init__(
        self, backend: str, workdir: Path, name: str | None = None, tablespace: str | None = None
    ) -> None:
        self.backend = backend
        self.tablespace = tablespace  # PostgreSQL: the database's files go there
        self.name = name or f"hlbench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            self.path = workdir / f"{self.name}.db"
            self.url = f"sqlite:///{self.path}"
        else:
            base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"

    async def create(self) -> None:
        if self.backend == "postgres":
            where = f' TABLESPACE "{self.tablespace}"' if self.tablespace else ""
            await _admin(f'CREATE DATABASE "{self.name}"{where}')

    async def exists(self) -> bool:
        """Whether the PostgreSQL database is there (a run kept it, or was killed)."""
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.name)
        finally:
            await conn.close()
        return found is not None

    async def size(self) -> int:
        """Bytes on disk: the SQLite file and its WAL, or ``pg_database_size`` (PostgreSQL's
        WAL belongs to the whole server and is not counted)."""
        if self.backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
            try:
                return int(await conn.fetchval("SELECT pg_database_size($1)", self.name))
            finally:
                await conn.close()
        return sum(_file_size(f"{self.path}{suffix}") for suffix in ("", "-wal"))

    async def drop(self) -> None:
        if self.backend == "postgres":
            with contextlib.suppress(Exception):
                await _admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm", ".key"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{self.path}{suffix}").unlink()


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


async def _admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def postgres_available() -> str | None:
    """None if the PostgreSQL server answers, else why not."""
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}"
    return None


# hookline --------------------------------------------------------------------------------


class Hookline:
    """``hookline serve`` as a subprocess on a fresh database, with the bench's settings."""

    def __init__(
        self, database: Database, tls: Tls, workdir: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.database = database
        self.env = child_env()
        self.env.update(
            HOOKLINE_DATABASE_URL=database.url,
            HOOKLINE_SECRET_KEY=SECRET_KEY,
            HOOKLINE_RESOLVE="hooks.example.test:127.0.0.1",
            HOOKLINE_ALLOW_NETWORKS="127.0.0.1/32",
            HOOKLINE_CA_BUNDLE=str(tls.ca),
            HOOKLINE_HOST="127.0.0.1",
            HOOKLINE_PORT="0",
        )
        self.env.update(extra_env or {})
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = workdir / f"{database.name}.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "hookline"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=self.workdir,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"hookline {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    async def start(self, timeout: float = 60) -> None:
        out_path = self.workdir / f"{self.database.name}.out"
        with open(out_path, "wb") as out, open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "hookline"), "serve"],
                env=self.env,
                stdout=out,
                stderr=log,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in out_path.read_text().splitlines():
                if " serving " in line:
                    self.url = line.split()[-1]
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"hookline serve exited: see {self.log_path}")
            await asyncio.sleep(0.05)
        raise RuntimeError("hookline serve did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self, kill: bool = False) -> None:
        """SIGTERM (in-flight attempts finish), or SIGKILL with ``kill``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 10)

    def errors_logged(self) -> int:
        """Lines at level error in the serve log (a sanity check)."""
        return errors_in(self.log_path)


def errors_in(log: Path) -> int:
    """Lines at level error in a hookline log."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    return sum(1 for line in text.splitlines() if '"level": "error"' in line)


# Threads of one process (the profile table) -------------------------------------------------

# futex(2) by architecture: a thread blocked in it on an address inside the Python runtime's
# own data (libpython's or the interpreter's writable segment) is waiting for the GIL.
FUTEX = {"x86_64": 202, "aarch64": 98}


class ThreadWatch:
    """The threads of one process over a timed window: each thread's CPU time (user +
    system) and context switches between ``start`` and ``stop``, the process's CPU time
    (threads that ended meanwhile included), and, sampled ``rate`` times a second from
    ``/proc/PID/task/TID/syscall``, how often each thread was running, blocked on the GIL
    (a futex in the Python runtime's data: `take_gil`, or the switch wait after a forced
    drop), or blocked on anything else (its queue, epoll, a lock). The samples are wall
    time, not CPU: they say how long a thread waited for the GIL, which no CPU figure shows.
    """

    def __init__(self, pid: int, rate: float = 100.0) -> None:
        self.pid = pid
        self.rate = rate
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start: dict[int, dict[str, float]] = {}
        self._process_start = 0.0
        self._started = 0.0
        self._states: dict[int, dict[str, int]] = {}
        self._runtime: list[tuple[int, int]] = []
        self._futex = FUTEX.get(os.uname().machine)
        self.gil_note = ""

    def start(self) -> ThreadWatch:
        self._runtime = self._runtime_ranges()
        if self._futex is None:
            self.gil_note = f"no futex number known for {os.uname().machine}"
        elif not self._runtime:
            self.gil_note = "the Python runtime's data segment was not found in /proc/PID/maps"
        self._start = self._snapshot()
        self._process_start = self._process_cpu()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._started
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end = self._snapshot()
        process = self._process_cpu() - self._process_start
        threads: dict[str, dict[str, Any]] = {}
        for tid, after in end.items():
            before = self._start.get(tid, {"cpu": 0.0, "voluntary": 0, "involuntary": 0})
            states = self._states.get(tid, {})
            threads[str(tid)] = {
                "cpu_seconds": round(after["cpu"] - before["cpu"], 4),
                "voluntary_switches": int(after["voluntary"] - before["voluntary"]),
                "involuntary_switches": int(after["involuntary"] - before["involuntary"]),
                "new": tid not in self._start,
                "samples": sum(states.values()),
                "running": states.get("running", 0),
                "gil": states.get("gil", 0),
                "blocked": states.get("blocked", 0),
            }
        return {
            "pid": self.pid,
            "seconds": round(elapsed, 3),
            "process_cpu_seconds": round(process, 4),
            "sample_rate": self.rate,
            "gil_note": self.gil_note,
            "threads": threads,
        }

    def _process_cpu(self) -> float:
        with contextlib.suppress(psutil.Error):
            times = self._proc.cpu_times()
            return float(times.user + times.system)
        return 0.0

    def _snapshot(self) -> dict[int, dict[str, float]]:
        found: dict[int, dict[str, float]] = {}
        with contextlib.suppress(psutil.Error):
            for thread in self._proc.threads():
                switches = _switches(self.pid, thread.id)
                found[thread.id] = {
                    "cpu": thread.user_time + thread.system_time,
                    "voluntary": switches[0],
                    "involuntary": switches[1],
                }
        return found

    def _runtime_ranges(self) -> list[tuple[int, int]]:
        """The writable, file-backed mappings of libpython or of the interpreter itself."""
        ranges = []
        try:
            exe = os.readlink(f"/proc/{self.pid}/exe")
            with open(f"/proc/{self.pid}/maps") as maps:
                for line in maps:
                    fields = line.split()
                    if len(fields) < 6 or not fields[1].startswith("rw"):
                        continue
                    path = fields[5]
                    if "libpython" in Path(path).name or path == exe:
                        low, high = fields[0].split("-")
                        ranges.append((int(low, 16), int(high, 16)))
        except OSError:
            return []
        return ranges

    def _state(self, tid: int) -> str | None:
        try:
            with open(f"/proc/{self.pid}/task/{tid}/syscall") as file:
                text = file.read()
        except OSError:
            return None
        if text.startswith("running"):
            return "running"
        fields = text.split()
        if self._futex is not None and len(fields) > 1 and fields[0] == str(self._futex):
            address = int(fields[1], 16)
            if any(low <= address < high for low, high in self._runtime):
                return "gil"
        return "blocked"

    def _sample(self) -> None:
        period = 1 / self.rate
        tids: list[int] = []
        listed = 0.0
        next_at = time.monotonic()
        while not self._stop.is_set():
            moment = time.monotonic()
            if moment - listed > 0.25:  # threads come and go: list them 4 times a second
                with contextlib.suppress(OSError):
                    tids = [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]
                listed = moment
            for tid in tids:
                state = self._state(tid)
                if state is not None:
                    counts = self._states.setdefault(tid, {})
                    counts[state] = counts.get(state, 0) + 1
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def _switches(pid: int, tid: int) -> tuple[int, int]:
    voluntary = involuntary = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/status") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches"):
                voluntary = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                involuntary = int(line.split()[1])
    return voluntary, involuntary
