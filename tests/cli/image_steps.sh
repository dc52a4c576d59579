#!/bin/sh
# The Dockerfile's steps without Docker or podman (`make image-test` builds and runs the real
# image with podman; this is for a machine without it): copy what .dockerignore
# lets in, install it as its RUN line does (in a fresh virtualenv, not python:3.11-slim's
# system Python), then, as an unprivileged user (nobody, not the image's uid 10001), run its
# CMD and its HEALTHCHECK command with its ENV (but on 127.0.0.1 instead of 0.0.0.0), a
# `hookline worker`, and the CLI beside them. Needs network access to PyPI; run as root.
#
#   sh tests/cli/image_steps.sh [work directory]
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

mkdir -p "$work/src" "$work/data"
cp "$repo/pyproject.toml" "$repo/constraints.txt" "$repo/README.md" "$work/src/"
cp -r "$repo/src" "$work/src/src"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
/usr/bin/python3.11 -m venv "$work/venv"  # a Python every user may run
(cd "$work/src" && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$work/venv/bin/pip" install -q -c constraints.txt .)

chown nobody "$work/data" && chmod 0700 "$work/data"
cd "$work/data"
# setpriv and env exec, so $! is hookline's own process id.
as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups env PATH=$work/venv/bin:/usr/bin:/bin HOOKLINE_DATABASE_URL=sqlite:///$work/data/hookline.db HOOKLINE_HOST=127.0.0.1"
healthcheck() {  # the HEALTHCHECK's command, word for word
    $as_nobody HOOKLINE_METRICS_PORT="$1" python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['HOOKLINE_METRICS_PORT'], timeout=4)"
}
wait_healthy() {
    for _ in $(seq 60); do healthcheck "$1" 2>/dev/null && return 0; sleep 1; done
    return 1
}

api=$(free_port) probes=$(free_port)
$as_nobody HOOKLINE_PORT="$api" HOOKLINE_METRICS_PORT="$probes" hookline serve \
    > "$work/serve.out" 2> "$work/serve.err" &
serve=$!
wait_healthy "$probes" && echo "serve: the health check passes"
python3 -c "import urllib.request as u; print('serve: /readyz', u.urlopen('http://127.0.0.1:$api/readyz').status)"
$as_nobody hookline key create --tenant default --role publisher | grep -q '^hlk_' \
    && echo "the CLI beside serve: a key created"

worker_probes=$(free_port)
$as_nobody HOOKLINE_METRICS_PORT="$worker_probes" hookline worker \
    > "$work/worker.out" 2> "$work/worker.err" &
worker=$!
wait_healthy "$worker_probes" && echo "worker: the health check passes"

kill -TERM "$serve" "$worker"
wait "$serve" && echo "serve: exit 0 on SIGTERM"
wait "$worker" && echo "worker: exit 0 on SIGTERM"
grep -q '^hlk_' "$work/serve.out" && echo "serve printed the first start's admin key"
ls -ln "$work/data"
