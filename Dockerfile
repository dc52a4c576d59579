# hookline in a container. Not built by this project's CI: see docs/deployment.md.
#
#   docker build -t hookline .
#   docker run -d -p 8000:8000 -v hookline-data:/data hookline      # one node on SQLite
#
# On PostgreSQL, set HOOKLINE_DATABASE_URL=postgresql://… and HOOKLINE_SECRET_KEY, and run
# `hookline worker` in more containers (docker-compose.yml is an example).
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

ENV HOOKLINE_DATABASE_URL=sqlite:////data/hookline.db \
    HOOKLINE_PORT=8000
EXPOSE 8000

# /healthz answers while the process runs. `hookline worker` serves no HTTP: disable the
# check for workers (docker-compose.yml does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HOOKLINE_PORT', '8000'), timeout=4)"

CMD ["hookline", "serve", "--host", "0.0.0.0"]
