"""`make image-test`: build the Dockerfile with podman, run `hookline serve` from the image,
check its health, and deliver one event through it to a local HTTPS receiver.

Needs root and Debian's podman, runc and debootstrap (installed with apt-get when missing).
Where there is no registry to pull the Dockerfile's base image from, a stand-in is made
with debootstrap (Debian bookworm with python3, pip and venv, without the PEP 668 marker,
so `pip install` installs into the system Python as in the official image), imported into
podman under the name that `FROM` uses, and kept there for the next run. The image itself
is built afresh every run (`--layers=false`: no cache) and removed after it.
docs/deployment.md says what was run and what it took.

    python -m tests.cli.image_run [--runner auto|podman|chroot] [--rebuild-base] [--keep]

Any step that fails ends the run with `FAILED: <step>: <reason>`, the tail of the log of
that step, and exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/hookline:image-test"  # kept after the run only with --keep
CONTAINER = f"hookline-image-test-{os.getpid()}"
# The machine's own CA bundle, bind-mounted read-only over the same file during the build,
# so the Dockerfile's `pip install` trusts what this machine trusts (its network
# interposes a CA of its own; the stand-in base's Debian bundle does not hold it).
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
STAND_IN_SUITE = "bookworm"  # its python3 is 3.11
STAND_IN_PYTHON = "3.11"
STAND_IN_PACKAGES = (
    "python3",
    "python3-pip",
    "python3-venv",
    "python-is-python3",
    "ca-certificates",
)
STAND_IN_LABEL = "org.hookline.stand-in"
STAND_IN_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Inside the image, where the test CA (the receiver's) is put.
IMAGE_CA = "/run/hookline-image-test/ca.pem"
RECEIVER_HOST = "hooks.example.test"
EVENT_TYPE = "com.qlik.v1.app.created"
SECRET = "a-secret-of-at-least-32-characters!!"
TOOLS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}


class Failed(Exception):
    """A step did not do what it should; the message says what happened instead."""

    def __init__(self, reason: str, log: str = "") -> None:
        super().__init__(reason)
        self.log = log


@dataclass
class Run:
    started: float = field(default_factory=time.monotonic)
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"[{time.monotonic() - self.started:6.1f} s] {name} ...", flush=True)
        began = time.monotonic()
        try:
            yield
        except Failed as failure:
            print(f"FAILED: {name}: {failure}", flush=True)
            if failure.log:
                print("---- last lines ----\n" + _tail(failure.log, 40), flush=True)
            print(self.tally(failed=1), flush=True)
            raise SystemExit(1) from None
        took = time.monotonic() - began
        self.timings[name] = took
        print(f"[{time.monotonic() - self.started:6.1f} s]   ok ({took:.1f} s)", flush=True)

    def tally(self, failed: int) -> str:
        """The closing line, as test runners end theirs: each step is one check."""
        return f"image-test: {len(self.timings)} passed, {failed} failed"


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str], *, what: str, log: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a command to its end; its stdout (its whole output when it goes to ``log``), or
    Failed with its output."""
    if log is not None:
        with log.open("w") as out:
            code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
        stdout = output = log.read_text(errors="replace")
    else:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        code, stdout, output = done.returncode, done.stdout, done.stdout + done.stderr
    if code != 0:
        where = f" (whole log: {log})" if log is not None else ""
        raise Failed(f"{what}: exit code {code}{where}", output)
    return stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- the tools and the base image -------------------------------------------------------


def ensure_tools() -> None:
    if os.geteuid() != 0:
        raise Failed("needs root (podman builds and runs rootful, debootstrap and chroot)")
    missing = [package for command, package in TOOLS.items() if shutil.which(command) is None]
    if missing:
        print(f"  installing {' '.join(missing)} with apt-get", flush=True)
        environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], what="apt-get update", env=environ)
        run(["apt-get", "install", "-y", "-qq", *missing], what="apt-get install", env=environ)


def base_image() -> str:
    """The Dockerfile's FROM, fully qualified as Docker reads a short name."""
    [base] = re.findall(r"^FROM\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    name = base if "/" in base else f"library/{base}"
    return name if "." in name.split("/")[0] else f"docker.io/{name}"


def stand_in_recipe() -> str:
    """What the stand-in is made of; a digest of it labels the image, so a changed recipe
    makes a new one."""
    recipe = (
        f"debootstrap --variant=minbase --include={','.join(STAND_IN_PACKAGES)} "
        f"{STAND_IN_SUITE}; rm EXTERNALLY-MANAGED, apt lists and archives; {STAND_IN_ENV}"
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def image_labels(name: str) -> dict[str, str] | None:
    """The labels of a local image, or None when there is no such image."""
    done = subprocess.run(
        ["podman", "image", "inspect", name, "--format", "{{json .Labels}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    labels: dict[str, str] | None = json.loads(done.stdout or "null")
    return labels or {}


def ensure_base(base: str, work: Path, rebuild: bool) -> str:
    """Make sure FROM's image is in podman's store; say where it came from."""
    labels = image_labels(base)
    recipe = stand_in_recipe()
    if labels is not None and not rebuild:
        if STAND_IN_LABEL not in labels:
            return f"{base}: a real image already in podman's store, used as it is"
        if labels[STAND_IN_LABEL] == recipe:
            return f"{base}: the stand-in made earlier (recipe {recipe}), reused"
    tag = base.rsplit(":", 1)[-1]
    if not tag.startswith(f"{STAND_IN_PYTHON}-") and tag != STAND_IN_PYTHON:
        raise Failed(
            f"the stand-in is Debian {STAND_IN_SUITE}'s Python {STAND_IN_PYTHON}; "
            f"the Dockerfile asks for {base}"
        )
    tree = work / "stand-in"
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(STAND_IN_PACKAGES)}",
            STAND_IN_SUITE,
            str(tree),
            DEBIAN_MIRROR,
        ],
        what="debootstrap",
        log=work / "debootstrap.log",
    )
    # As in the official image: pip installs into the system Python, and no package lists.
    for marker in tree.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for leftover in [*tree.glob("var/cache/apt/archives/*.deb"), *tree.glob("var/lib/apt/lists/*")]:
        if leftover.is_file():
            leftover.unlink()
    archive = work / "stand-in.tar"
    run(["tar", "-C", str(tree), "--numeric-owner", "-cf", str(archive), "."], what="tar")
    shutil.rmtree(tree)
    run(
        [
            "podman",
            "import",
            "--change",
            f"ENV {STAND_IN_ENV}",
            "--change",
            'CMD ["python3"]',
            "--change",
            f"LABEL {STAND_IN_LABEL}={recipe}",
            str(archive),
            base,
        ],
        what="podman import",
    )
    archive.unlink()
    return f"{base}: a stand-in made now with debootstrap (recipe {recipe})"


def build(work: Path) -> str:
    """Build the Dockerfile afresh (no cache, no intermediate images); the image's id."""
    mount = [f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro"] if CA_BUNDLE.is_file() else []
    run(
        [
            "podman",
            "build",
            "--isolation=chroot",
            "--pull=never",
            "--layers=false",
            "--force-rm",
            "--format=docker",  # keeps HEALTHCHECK (OCI images have no such field)
            *mount,
            f"--tag={TAG}",
            f"--iidfile={work / 'image.id'}",
            str(ROOT),
        ],
        what="podman build",
        log=work / "build.log",
    )
    return (work / "image.id").read_text().strip()


@dataclass(frozen=True)
class ImageConfig:
    id: str
    env: dict[str, str]
    user: str
    workdir: str
    cmd: list[str]
    healthcheck: list[str]


def image_config(image: str) -> ImageConfig:
    inspected = json.loads(run(["podman", "image", "inspect", image], what="inspect"))[0]
    config = inspected["Config"]
    test = (inspected.get("Healthcheck") or {}).get("Test") or []
    if test[:1] != ["CMD"]:
        raise Failed(f"the image's HEALTHCHECK is not a CMD in exec form: {test!r}")
    return ImageConfig(
        id=image,
        env=dict(item.partition("=")[::2] for item in config.get("Env", [])),
        user=config.get("User", ""),
        workdir=config.get("WorkingDir") or "/",
        cmd=config["Cmd"],
        healthcheck=test[1:],
    )


# -- running the image ------------------------------------------------------------------


class Runner(Protocol):
    how: str

    def start(self, environ: dict[str, str]) -> None: ...
    def exec(self, argv: Sequence[str]) -> str: ...
    def output(self) -> str: ...
    def stop(self) -> int: ...
    def close(self) -> None: ...


def ulimits() -> list[str]:
    """podman asks for more open files and processes than this sandbox's hard limits, and
    no process here may raise them (no CAP_SYS_RESOURCE): ask for what there is."""
    _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
    files = 1048576 if files == resource.RLIM_INFINITY else min(files, 1048576)
    return [f"--ulimit=nofile={files}:{files}", "--ulimit=nproc=4096:4096"]


class PodmanRunner:
    """`podman run` on the host's network (the receiver is on the host's loopback)."""

    def __init__(self, runtime: str | None, image: str, ca_file: Path) -> None:
        self._image = image
        self._podman = ["podman", *([f"--runtime={runtime}"] if runtime else [])]
        self._ca_file = ca_file
        self.how = f"podman run (OCI runtime: {runtime or 'podman default'})"

    def start(self, environ: dict[str, str]) -> None:
        subprocess.run(["podman", "rm", "-f", "-v", CONTAINER], capture_output=True, check=False)
        run(
            [
                *self._podman,
                "run",
                "--detach",
                f"--name={CONTAINER}",
                "--network=host",
                "--no-healthcheck",  # its timer needs systemd; the test runs its command
                *ulimits(),
                f"--volume={self._ca_file}:{IMAGE_CA}:ro",
                *(f"--env={name}={value}" for name, value in environ.items()),
                self._image,
            ],
            what="podman run",
        )

    def exec(self, argv: Sequence[str]) -> str:
        return run([*self._podman, "exec", CONTAINER, *argv], what=" ".join(argv[:3]))

    def output(self) -> str:
        done = subprocess.run(["podman", "logs", CONTAINER], capture_output=True, text=True)
        return done.stdout + done.stderr

    def stop(self) -> int:
        run(["podman", "stop", "--time=40", CONTAINER], what="podman stop")
        code = run(
            ["podman", "inspect", CONTAINER, "--format", "{{.State.ExitCode}}"], what="inspect"
        )
        return int(code.strip())

    def close(self) -> None:
        subprocess.run(["podman", "rm", "-f", "-v", CONTAINER], capture_output=True, check=False)


class ChrootRunner:
    """The image's exported file system under chroot, as the image's user, in a mount
    namespace of its own holding /proc and /dev."""

    def __init__(self, config: ImageConfig, ca_file: Path, work: Path) -> None:
        self._config = config
        self._root = work / "rootfs"
        self._work = work
        self._process: subprocess.Popen[bytes] | None = None
        self._environ: dict[str, str] = {}
        self.how = "chroot into the image's exported file system"
        if self._root.exists():
            shutil.rmtree(self._root)
        self._root.mkdir()
        created = run(["podman", "create", config.id], what="podman create").strip()
        try:
            archive = work / "rootfs.tar"
            run(["podman", "export", f"--output={archive}", created], what="podman export")
        finally:
            subprocess.run(["podman", "rm", "-v", created], capture_output=True, check=False)
        run(["tar", "-xpf", str(archive), "--numeric-owner", "-C", str(self._root)], what="tar")
        archive.unlink()
        for mount_point in ("proc", "dev", IMAGE_CA.rsplit("/", 1)[0].lstrip("/")):
            (self._root / mount_point).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca_file, self._root / IMAGE_CA.lstrip("/"))
        self._userspec = self._user_ids(config.user)

    def _user_ids(self, user: str) -> str:
        name, _, group = user.partition(":")
        if name.isdigit() and (not group or group.isdigit()):
            return f"{name}:{group or name}"
        for line in (self._root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return f"{fields[2]}:{group or fields[3]}"
        raise Failed(f"the image's USER {user!r} is not in its /etc/passwd")

    def _argv(self, argv: Sequence[str]) -> list[str]:
        environ = {**self._config.env, **self._environ}
        inside = [
            "chroot",
            f"--userspec={self._userspec}",
            str(self._root),
            "/usr/bin/env",
            "-i",
            f"--chdir={self._config.workdir}",
            *(f"{name}={value}" for name, value in environ.items()),
            *argv,
        ]
        mounts = 'mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" && shift && exec "$@"'
        return [
            "unshare",
            "--mount",
            "--propagation=private",
            "sh",
            "-c",
            mounts,
            "sh",
            str(self._root),
            *inside,
        ]

    def start(self, environ: dict[str, str]) -> None:
        self._environ = environ
        self._process = subprocess.Popen(
            self._argv(self._config.cmd),
            stdout=(self._work / "serve.out").open("wb"),
            stderr=(self._work / "serve.err").open("wb"),
        )

    def exec(self, argv: Sequence[str]) -> str:
        return run(self._argv(argv), what=" ".join(argv[:3]))

    def output(self) -> str:
        parts = [self._work / "serve.out", self._work / "serve.err"]
        return "".join(part.read_text(errors="replace") for part in parts if part.exists())

    def stop(self) -> int:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(40)
        except subprocess.TimeoutExpired:
            raise Failed("serve did not exit within 40 s of SIGTERM", self.output()) from None

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def probe_podman(runtime: str | None, image: str) -> str | None:
    """None if `podman run` starts a container here with this runtime, else why not."""
    done = subprocess.run(
        [
            "podman",
            *([f"--runtime={runtime}"] if runtime else []),
            "run",
            "--rm",
            "--network=none",
            *ulimits(),
            image,
            "true",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return None
    return _tail(done.stderr or done.stdout, 1) or f"exit code {done.returncode}"


def choose_runner(wanted: str, config: ImageConfig, ca_file: Path, work: Path) -> Runner:
    if wanted in ("auto", "podman"):
        refusals = []
        for runtime in (None, "runc"):
            refusal = probe_podman(runtime, config.id)
            if refusal is None:
                return PodmanRunner(runtime, config.id, ca_file)
            refusals.append(f"{runtime or 'default runtime'}: {refusal}")
            print(f"  podman run ({refusals[-1]})", flush=True)
        if wanted == "podman":
            raise Failed("podman run refused with every runtime: " + "; ".join(refusals))
        print("  so: the image's file system under chroot", flush=True)
    return ChrootRunner(config, ca_file, work)


# -- talking to it ----------------------------------------------------------------------


def call(method: str, url: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_until_healthy(url: str, runner: Runner, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if call("GET", url)[0] == 200:
                return
        time.sleep(0.5)
    raise Failed(f"{url} did not answer 200 within {seconds:.0f} s", runner.output())


def deliver_one(runner: Runner, api: str) -> str:
    """Create a webhook for the receiver, publish one event, check what arrives."""
    from hookline.listen import verify
    from tests.delivery.receivers import Receiver

    keys = re.findall(r"^(hlk_\S+)$", runner.output(), re.MULTILINE)
    if not keys:
        raise Failed("serve printed no admin key on its first start", runner.output())
    admin = keys[0]
    publisher = runner.exec(
        ["hookline", "key", "create", "--tenant", "default", "--role", "publisher"]
    ).strip()
    if not publisher.startswith("hlk_"):
        raise Failed(f"`hookline key create` in the image printed {publisher!r}")

    receiver = Receiver(_receiver_tls)
    receiver.start()
    try:
        path = "/image-test"
        status, webhook = call(
            "POST",
            f"{api}/api/v1/webhooks",
            admin,
            {
                "name": "image test",
                "url": f"https://{RECEIVER_HOST}:{receiver.port}{path}",
                "eventTypes": [EVENT_TYPE],
                "secret": SECRET,
            },
        )
        if status != 201:
            raise Failed(f"creating the webhook: {status} {webhook}")
        status, published = call(
            "POST", f"{api}/api/v1/events", publisher, {"type": EVENT_TYPE, "data": {"id": "1"}}
        )
        if status != 202:
            raise Failed(f"publishing the event: {status} {published}")
        event_id = published["data"][0]["id"]
        try:
            [got] = receiver.wait_for(path, 1, timeout=60)
        except AssertionError as error:
            raise Failed(str(error), runner.output()) from None
        verdict = verify(SECRET, got.headers, got.body)
        if not (verdict.qlik and verdict.standard):
            raise Failed(f"signatures: Qlik {verdict.qlik}, Standard Webhooks {verdict.standard}")
        if event_id not in got.body.decode():
            raise Failed(f"the delivery does not name the event {event_id}: {got.body[:200]!r}")
        deliveries = f"{api}/api/v1/webhooks/{webhook['id']}/deliveries"
        deadline = time.monotonic() + 20
        while True:
            status, history = call("GET", deliveries, admin)
            if status == 200 and [d["status"] for d in history["data"]] == ["success"]:
                break
            if time.monotonic() > deadline:
                raise Failed(f"the delivery history says {status} {history}")
            time.sleep(0.2)
        return f"event {event_id} delivered, both signatures verified, history: success"
    finally:
        receiver.stop()


_receiver_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runner", choices=("auto", "podman", "chroot"), default="auto")
    parser.add_argument("--rebuild-base", action="store_true", help="make the stand-in anew")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    import trustme

    run_ = Run()
    work = Path(tempfile.mkdtemp(prefix="hookline-image-test-", dir="/var/tmp"))
    print(f"work directory: {work}", flush=True)
    ca = trustme.CA()
    ca_file = work / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca_file.chmod(0o644)
    ca.issue_cert(RECEIVER_HOST).configure_cert(_receiver_tls)

    runner: Runner | None = None
    image = ""
    passed = False
    try:
        with run_.step("tools: podman, runc, debootstrap"):
            ensure_tools()
        base = base_image()
        with run_.step(f"base image {base}"):
            print("  " + ensure_base(base, work, args.rebuild_base), flush=True)
        with run_.step(f"podman build of the Dockerfile (log: {work / 'build.log'})"):
            image = build(work)
        with run_.step(f"a way to run the image ({args.runner})"):
            config = image_config(image)
            runner = choose_runner(args.runner, config, ca_file, work)
            print(f"  runs with: {runner.how}", flush=True)
        api_port, probes_port = free_port(), free_port()
        api = f"http://127.0.0.1:{api_port}"
        with run_.step(f"{' '.join(config.cmd)} from the image, as {config.user}"):
            runner.start(
                {
                    # The image's own settings, but on loopback ports that are free here.
                    "HOOKLINE_HOST": "127.0.0.1",
                    "HOOKLINE_PORT": str(api_port),
                    "HOOKLINE_METRICS_PORT": str(probes_port),
                    # The receiver's name, address and CA; 127.0.0.1 past the egress guard.
                    "HOOKLINE_RESOLVE": f"{RECEIVER_HOST}:127.0.0.1",
                    "HOOKLINE_ALLOW_NETWORKS": "127.0.0.1/32",
                    "HOOKLINE_CA_BUNDLE": IMAGE_CA,
                }
            )
            wait_until_healthy(f"{api}/healthz", runner)
        with run_.step("the image's HEALTHCHECK command, in the image"):
            runner.exec(config.healthcheck)
            status, _ = call("GET", f"{api}/readyz")
            if status != 200:
                raise Failed(f"/readyz answered {status}")
        with run_.step("a webhook, an event, one delivery to the HTTPS receiver"):
            print("  " + deliver_one(runner, api), flush=True)
        with run_.step("the volume holds the database and its key, the user's alone"):
            listing = runner.exec(["ls", "-ln", config.workdir])
            print("  " + listing.strip().replace("\n", "\n  "), flush=True)
            for name in ("hookline.db", "hookline.db.key"):
                line = next((x for x in listing.splitlines() if x.endswith(f" {name}")), "")
                if not line.startswith("-rw------- ") or line.split()[2] == "0":
                    raise Failed(f"{name}: {line or 'missing'}")
        with run_.step("SIGTERM: serve exits 0"):
            code = runner.stop()
            if code != 0:
                raise Failed(f"exit code {code}", runner.output())
        passed = True
    finally:
        if runner is not None:
            runner.close()
        if image and not args.keep:
            subprocess.run(["podman", "rmi", "--force", image], capture_output=True, check=False)
        if passed and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}", flush=True)
    total = time.monotonic() - run_.started
    print(f"image test passed in {total:.0f} s ({runner.how if runner else ''})", flush=True)
    print(run_.tally(failed=0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
