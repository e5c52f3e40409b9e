"""FastAPI apps guarding the same route with other libraries, for the end-to-end comparison.

    BENCH_PEER=pyjwt BENCH_ALGORITHM=HS256 BENCH_KEY='{"kty": "oct", ...}' \\
        python -m uvicorn --factory benchmarks.fastapi_peers:create_app --host 127.0.0.1

``/open`` has no dependency and ``/protected`` the peer's, both answering the same small JSON
as :mod:`benchmarks.fastapi_app`. ``BENCH_PEER`` picks the peer:

``pyjwt``, ``oxyjwt``, ``ryjwt``
    a dependency written by hand the way FastAPI's security tutorial writes one: the Bearer token
    from ``OAuth2PasswordBearer``, decoded with the library (signature, ``exp``, ``iss``, and
    ``aud`` for HS256 or ``token_use``/``client_id`` for a Cognito access token), the user looked
    up by ``sub`` in a dict, a pydantic model returned, and a second dependency refusing a
    disabled user (ryjwt, Python 3.12+ only, with its key object holding the algorithm and
    ``decode`` given ``issuer`` and ``audience`` per call);
``authx``
    authx's ``access_token_required`` dependency (HS256, a token authx issued itself);
``fastapi-cloudauth``
    fastapi-cloudauth's ``Cognito`` (the access-token dependency) with an RS256 Cognito-shaped
    access token, its JWKS fetched once at start-up from ``BENCH_JWKS_URL`` (127.0.0.1) instead
    of the AWS URL its constructor builds (see :func:`_loopback_cognito`);
``fastapi-users``
    fastapi-users' ``current_user(active=True)`` over an ``AuthenticationBackend`` of a
    ``BearerTransport`` and a ``JWTStrategy`` (HS256), the user in its SQLAlchemy adapter
    (aiosqlite, the file ``BENCH_USERS_DB``), as its documentation sets it up: every request
    opens a session and loads the user by id. The harness logs in once through its
    ``/auth/jwt/login`` route (the token ``JWTStrategy.write_token`` issued) and reuses the token.

``BENCH_KEY`` is the verifying key as a JWK (the secret for HS256, the public key for RS256),
``BENCH_ISSUER`` and ``BENCH_CLIENT_ID`` what the token must carry. (No ``from __future__ import
annotations`` here: FastAPI must see the dependencies of the nested functions as objects.)
"""

import base64
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel

BODY = {"status": "ok", "service": "tokenward-bench"}
PEERS = ("pyjwt", "oxyjwt", "ryjwt", "authx", "fastapi-cloudauth", "fastapi-users")
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
    if peer == "ryjwt":
        import ryjwt

        if jwk["kty"] == "oct":
            key = ryjwt.SecretKey(_secret(jwk), algorithms=[algorithm])
        else:
            key = ryjwt.PublicKey.from_jwks({"keys": [jwk]}, algorithms=[algorithm])
        decode: Callable[..., dict[str, Any]] = key.decode
        return decode
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


def _loopback_cognito(region: str, user_pool_id: str, client_id: str, jwks_url: str) -> Any:
    """fastapi-cloudauth's ``Cognito`` as ``Cognito(region, user_pool_id, client_id)`` builds it,
    but with its JWKS read from `jwks_url`.

    ``Cognito.__init__`` makes ``JWKS(url=<the pool's AWS URL>)``, whose constructor fetches the
    keys at once (``requests.get``), and has no parameter for another URL; its ``JWKS`` class does
    take any ``url``. So this subclass does what ``Cognito.__init__`` does (0.4.3: the same issuer,
    ``audience=client_id``, ``scope_key="cognito:groups"``, a ``CognitoExtraVerifier`` accepting
    ``token_use=access``) with that one argument changed: the library's own fetch and
    verification, nothing leaving 127.0.0.1."""
    from fastapi_cloudauth import Cognito
    from fastapi_cloudauth.base import ScopedAuth
    from fastapi_cloudauth.cognito import JWKS, CognitoExtraVerifier

    class LoopbackCognito(Cognito):
        def __init__(self) -> None:
            issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
            extra = CognitoExtraVerifier(client_id=client_id, issuer=issuer, token_use={"access"})
            ScopedAuth.__init__(
                self,
                JWKS(url=jwks_url),
                audience=client_id,
                issuer=issuer,
                scope_key="cognito:groups",
                extra=extra,
            )

    return LoopbackCognito()


def _cloudauth(app: FastAPI) -> None:
    auth = _loopback_cognito(
        os.environ["BENCH_COGNITO_REGION"],
        os.environ["BENCH_COGNITO_POOL_ID"],
        os.environ["BENCH_CLIENT_ID"],
        os.environ["BENCH_JWKS_URL"],
    )

    @app.get("/protected", dependencies=[Depends(auth)])
    async def protected_route() -> dict[str, str]:
        return BODY


Startup = list[Callable[[], Awaitable[None]]]


def _fastapi_users(app: FastAPI, startup: Startup) -> None:
    """fastapi-users set up the way its documentation's SQLAlchemy example does."""
    import uuid

    from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
    from fastapi_users.authentication import (
        AuthenticationBackend,
        BearerTransport,
        JWTStrategy,
    )
    from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
    from sqlalchemy.orm import DeclarativeBase

    secret = os.environ["BENCH_USERS_SECRET"]
    engine = create_async_engine(f"sqlite+aiosqlite:///{os.environ['BENCH_USERS_DB']}")
    session_maker = async_sessionmaker(engine, expire_on_commit=False)

    class Base(DeclarativeBase):
        pass

    class UserTable(SQLAlchemyBaseUserTableUUID, Base):
        pass

    class UserManager(UUIDIDMixin, BaseUserManager[UserTable, uuid.UUID]):
        reset_password_token_secret = secret
        verification_token_secret = secret

    async def get_async_session() -> AsyncIterator[AsyncSession]:
        async with session_maker() as session:
            yield session

    async def get_user_db(
        session: Annotated[AsyncSession, Depends(get_async_session)],
    ) -> AsyncIterator[Any]:
        yield SQLAlchemyUserDatabase(session, UserTable)

    async def get_user_manager(user_db: Annotated[Any, Depends(get_user_db)]) -> AsyncIterator[Any]:
        yield UserManager(user_db)

    def get_jwt_strategy() -> Any:
        return JWTStrategy(secret=secret, lifetime_seconds=3600)  # outlives any run

    backend = AuthenticationBackend(
        name="jwt",
        transport=BearerTransport(tokenUrl="auth/jwt/login"),
        get_strategy=get_jwt_strategy,
    )
    users = FastAPIUsers[UserTable, uuid.UUID](get_user_manager, [backend])
    current_active_user = users.current_user(active=True)

    @app.get("/protected")
    async def protected_route(
        user: Annotated[UserTable, Depends(current_active_user)],
    ) -> dict[str, str]:
        return BODY

    app.include_router(users.get_auth_router(backend), prefix="/auth/jwt")  # after /protected

    async def create_user() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with session_maker() as session:
            manager = UserManager(SQLAlchemyUserDatabase(session, UserTable))
            email = os.environ["BENCH_USERS_EMAIL"]
            password = os.environ["BENCH_USERS_PASSWORD"]
            await manager.create(schemas.BaseUserCreate(email=email, password=password))

    startup.append(create_user)


def create_app() -> FastAPI:
    peer = os.environ["BENCH_PEER"]
    if peer not in PEERS:
        raise ValueError(f"BENCH_PEER must be one of {PEERS}")
    startup: Startup = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for step in startup:
            await step()
        yield

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return BODY

    if peer == "authx":
        _authx(app)
    elif peer == "fastapi-cloudauth":
        _cloudauth(app)
    elif peer == "fastapi-users":
        _fastapi_users(app, startup)
    else:
        _hand_written(app, peer)
    return app
