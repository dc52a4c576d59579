"""The management API's floor: uvicorn (uvloop, httptools, as ``hookline serve`` runs it)
and Starlette answering one route with a fixed JSON body, no authentication, no database.
Prints its URL once it listens.

    python -m bench.bare_api --body webhook.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import free_port


def app(body: bytes) -> Starlette:
    async def answer(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/answer", answer)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--body", type=Path, required=True, help="the JSON body to answer")
    args = parser.parse_args()
    port = free_port()
    print(f"listening http://127.0.0.1:{port}", flush=True)
    uvicorn.run(
        app(args.body.read_bytes()),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
