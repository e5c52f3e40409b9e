"""The FastAPI app of the end-to-end benchmark: the same small JSON from an open route and from
routes that require a verified Bearer token.

    TOKENWARD_BENCH_JWK=/path/key.json TOKENWARD_BENCH_ALG=RS256 \\
        python -m uvicorn benchmarks.fastapi_app:app --host 127.0.0.1 --port 8001

``/open`` has no dependency; ``/protected`` depends on a plain FastAPI dependency that reads the
``Authorization: Bearer`` header and calls ``tokenward.Verifier.verify`` (issuer and audience
checked), with the verified-token cache on when this build has it; ``/protected-nocache`` is the
same without the cache; ``/dependency-only`` has the same dependency minus the verify, to tell
FastAPI's dependency cost from tokenward's. The key is the public JWK in the file
``TOKENWARD_BENCH_JWK`` (written by the benchmark, which signs the token the load generator sends).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request

import tokenward as tw
from benchmarks.peers import AUDIENCE, CACHE_SIZE, ISSUER

_KEY = tw.JWK.from_json(Path(os.environ["TOKENWARD_BENCH_JWK"]).read_text())
_ALGORITHMS = [os.environ.get("TOKENWARD_BENCH_ALG", "RS256")]

_plain = tw.Verifier(_KEY, algorithms=_ALGORITHMS, issuer=ISSUER, audience=AUDIENCE)
try:
    _cached = tw.Verifier(
        _KEY,
        algorithms=_ALGORITHMS,
        issuer=ISSUER,
        audience=AUDIENCE,
        cache_size=CACHE_SIZE,  # type: ignore[call-arg]
    )
    CACHE_ON = True
except TypeError:  # a build without the verified-token cache
    _cached = _plain
    CACHE_ON = False

BODY = {"status": "ok", "service": "tokenward-bench"}


def _bearer(request: Request) -> str:
    authorization = request.headers.get("authorization")
    if authorization is None or not authorization.startswith("Bearer "):
        raise HTTPException(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
    return authorization[7:]


async def bearer_only(request: Request) -> str:
    """The same dependency without the verify: what FastAPI's dependency machinery costs."""
    return _bearer(request)


async def current_claims(request: Request) -> dict[str, Any]:
    try:
        return _cached.verify(_bearer(request))
    except tw.InvalidTokenError as exc:
        raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from exc


async def current_claims_nocache(request: Request) -> dict[str, Any]:
    try:
        return _plain.verify(_bearer(request))
    except tw.InvalidTokenError as exc:
        raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from exc


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/open")
async def open_route() -> dict[str, str]:
    return BODY


@app.get("/dependency-only")
async def dependency_only_route(token: Annotated[str, Depends(bearer_only)]) -> dict[str, str]:
    return BODY


@app.get("/protected")
async def protected_route(
    claims: Annotated[dict[str, Any], Depends(current_claims)],
) -> dict[str, str]:
    return BODY


@app.get("/protected-nocache")
async def protected_nocache_route(
    claims: Annotated[dict[str, Any], Depends(current_claims_nocache)],
) -> dict[str, str]:
    return BODY
