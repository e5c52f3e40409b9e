"""FastAPI apps guarding the same route with other libraries, for the end-to-end comparison.

    BENCH_PEER=pyjwt BENCH_ALGORITHM=HS256 BENCH_KEY='{"kty": "oct", ...}' \\
        python -m uvicorn --factory benchmarks.fastapi_peers:create_app --host 127.0.0.1

``/open`` has no dependency and ``/protected`` the peer's, both answering the same small JSON
as :mod:`benchmarks.fastapi_app`. ``BENCH_PEER`` picks the peer:

``pyjwt``, ``oxyjwt``
    a dependency written by hand the way FastAPI's security tutorial writes one: the Bearer token
    from ``OAuth2PasswordBearer``, decoded with the library (signature, ``exp``, ``iss``, and
    ``aud`` for HS256 or ``token_use``/``client_id`` for a Cognito access token), the user looked
    up by ``sub`` in a dict, a pydantic model returned, and a second dependency refusing a
    disabled user;
``authx``
    authx's ``access_token_required`` dependency (HS256, a token authx issued itself).

``BENCH_KEY`` is the verifying key as a JWK (the secret for HS256, the public key for RS256),
``BENCH_ISSUER`` and ``BENCH_CLIENT_ID`` what the token must carry. (No ``from __future__ import
annotations`` here: FastAPI must see the dependencies of the nested functions as objects.)
"""

import base64
import json
import os
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

BODY = {"status": "ok", "service": "tokenward-bench"}
PEERS = ("pyjwt", "oxyjwt", "authx")
DEBUG_SUB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"  # realistic_claims()'s sub


class User(BaseModel):
    username: str
    email: str | None = None
    disabled: bool = False


USERS = {DEBUG_SUB: {"username": DEBUG_SUB, "email": "debug@example.com", "disabled": False}}


def _secret(jwk: dict[str, Any]) -> bytes:
    k = str(jwk["k"])
    return base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))


def _decoder(peer: str, algorithm: str, jwk: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """The library's decode with the key bound, raising the library's own errors."""
    if peer == "pyjwt":
        import jwt

        key: Any = jwt.PyJWK.from_dict(jwk, algorithm=algorithm).key
        return lambda token, **kw: jwt.decode(token, key, algorithms=[algorithm], **kw)
    import oxyjwt

    key = (
        oxyjwt.DecodingKey.from_secret(_secret(jwk))
        if jwk["kty"] == "oct"
        else oxyjwt.DecodingKey.from_jwk(jwk)
    )
    return lambda token, **kw: oxyjwt.decode(token, key, algorithms=[algorithm], **kw)


def _hand_written(app: FastAPI, peer: str) -> None:
    algorithm = os.environ["BENCH_ALGORITHM"]
    jwk = json.loads(os.environ["BENCH_KEY"])
    issuer = os.environ["BENCH_ISSUER"]
    client_id = os.environ["BENCH_CLIENT_ID"]
    decode = _decoder(peer, algorithm, jwk)
    cognito = algorithm != "HS256"  # the RS256 token is a Cognito access token: no aud
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")
    unauthorized = HTTPException(
        status_code=401,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )

    async def current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
        try:
            if cognito:
                payload = decode(token, issuer=issuer)
                if payload.get("token_use") != "access" or payload.get("client_id") != client_id:
                    raise unauthorized
            else:
                payload = decode(token, issuer=issuer, audience=client_id)
        except HTTPException:
            raise
        except Exception as exc:  # each library's InvalidTokenError
            raise unauthorized from exc
        record = USERS.get(str(payload.get("sub")))
        if record is None:
            raise unauthorized
        return User(**record)

    async def active_user(user: Annotated[User, Depends(current_user)]) -> User:
        if user.disabled:
            raise HTTPException(status_code=400, detail="Inactive user")
        return user

    @app.get("/protected")
    async def protected_route(user: Annotated[User, Depends(active_user)]) -> dict[str, str]:
        return BODY


def authx_config(secret: str) -> Any:
    from authx import AuthXConfig

    return AuthXConfig(JWT_ALGORITHM="HS256", JWT_SECRET_KEY=secret, JWT_TOKEN_LOCATION=["headers"])


def _authx(app: FastAPI) -> None:
    from authx import AuthX

    auth = AuthX(config=authx_config(os.environ["BENCH_AUTHX_SECRET"]))
    auth.handle_errors(app)

    @app.get("/protected", dependencies=[Depends(auth.access_token_required)])
    async def protected_route() -> dict[str, str]:
        return BODY


def create_app() -> FastAPI:
    peer = os.environ["BENCH_PEER"]
    if peer not in PEERS:
        raise ValueError(f"BENCH_PEER must be one of {PEERS}")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return BODY

    if peer == "authx":
        _authx(app)
    else:
        _hand_written(app, peer)
    return app
