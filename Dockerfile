# hookline in a container.
#
#   docker build -t hookline .
#   docker run -d -p 8000:8000 -v hookline-data:/data hookline      # one node on SQLite
#
# With podman, build with `--format docker`: an OCI image has no HEALTHCHECK.
# On PostgreSQL, set HOOKLINE_DATABASE_URL=postgresql://… and HOOKLINE_SECRET_KEY, and run
# `hookline worker` in more containers (docker-compose.yml is an example).
#
# tests/cli/test_dockerfile.py checks this file's invariants; `make image-test` builds it
# with podman (on a stand-in for the base image where no registry is reachable) and runs
# it: see docs/deployment.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN pip install -c constraints.txt .

# A user of its own, and the volume for the SQLite database and its key file
# (/data/hookline.db.key, created on first start unless HOOKLINE_SECRET_KEY is set).
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin hookline \
    && mkdir /data \
    && chown hookline:hookline /data \
    && chmod 0700 /data
VOLUME /data
WORKDIR /data
USER hookline

# Every process also serves /metrics, /healthz and /readyz on HOOKLINE_METRICS_PORT, so
# one health check fits `hookline serve` and `hookline worker` alike. Logs are JSON lines
# for the log collector, with `docker run -t` too (unset, a terminal would get console).
ENV HOOKLINE_DATABASE_URL=sqlite:////data/hookline.db \
    HOOKLINE_HOST=0.0.0.0 \
    HOOKLINE_PORT=8000 \
    HOOKLINE_METRICS_PORT=9100 \
    HOOKLINE_LOG_FORMAT=json
EXPOSE 8000 9100

# /healthz answers while the process runs (liveness: /readyz would mark every container
# unhealthy while the database is away, and restarting them would not help).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['HOOKLINE_METRICS_PORT'], timeout=4)"]

CMD ["hookline", "serve"]
