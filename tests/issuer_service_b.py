"""Service B of tests/test_issuer_e2e.py: a verifier of service A's tokens. It knows A only by
its JWKS URL (``ISSUER_JWKS_URL``), its issuer name (``ISSUER_NAME``) and the shared field-
encryption secret (``ISSUER_FIELD_SECRET``); ``ISSUER_JWKS_COOLDOWN`` is the RemoteJWKS cooldown.
Its own Auth (prefix ``SERVICE_B_``) runs the routes; A's tokens come in through a
VerifierStrategy."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI

import tokenward as tw
from tokenward.fastapi import Auth, CurrentUser, authenticate
from tokenward.strategies import VerifierStrategy

jwks = tw.RemoteJWKS(
    os.environ["ISSUER_JWKS_URL"], ttl=3600, cooldown=float(os.environ["ISSUER_JWKS_COOLDOWN"])
)
verifier = tw.Verifier(
    jwks,
    algorithms=["ES256"],
    issuer=os.environ["ISSUER_NAME"],
    typ="at+jwt",
    require=["exp", "iat", "sub", "jti", "token_use"],
    field_cipher=tw.FieldCipher(os.environ["ISSUER_FIELD_SECRET"]),
    cache_size=64,
)
service_a = VerifierStrategy(verifier, name="service_a")
auth = Auth.from_env(prefix="SERVICE_B_", strategies={"service_a": service_a})
app = FastAPI(lifespan=auth.lifespan)


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/whoami")
async def whoami(
    user: Annotated[CurrentUser, Depends(authenticate(service_a))],
) -> dict[str, Any]:
    return {
        "sub": user.sub,
        "email": user.email,
        "groups": user.groups,
        "token_use": user.claims.get("token_use"),
    }


@app.get("/test/fetches")
def fetches() -> dict[str, int]:
    return {"attempts": jwks.fetch_attempts, "generation": jwks.generation}
