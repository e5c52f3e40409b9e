"""Service A of tests/test_issuer_e2e.py: an issuer. The custom provider signs with the
TOKENWARD_TOKEN_ALGORITHM key ring (and encrypts claims with TOKENWARD_FIELD_ENCRYPTION_SECRET),
publishes its keys at ``auth.jwks_router`` and rotates them on an admin route. It counts the
requests its JWKS endpoint gets, so the test can see what the verifier fetched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Response

from tokenward.fastapi import Auth, require_groups

auth = Auth.from_env()
app = FastAPI(lifespan=auth.lifespan)
app.include_router(auth.router)
app.include_router(auth.jwks_router)
_hits = {"jwks": 0}


@app.middleware("http")
async def count_jwks_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    if request.url.path == auth.settings.jwks_path:
        _hits["jwks"] += 1
    return await call_next(request)


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/admin/rotate-keys", dependencies=[Depends(require_groups("root"))])
def rotate_keys() -> dict[str, Any]:
    return {"kid": auth.rotate_keys()}


@app.get("/test/jwks-hits")
def jwks_hits() -> dict[str, int]:
    return {"hits": _hits["jwks"]}
