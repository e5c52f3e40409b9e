"""The app tests/test_mfa_uvicorn.py runs under real uvicorn: tokenward's auth router (with the
second-factor routes), a route behind ``require_fresh_mfa(max_age=300)``, and one account,
``ada@example.com`` (created at start-up). Everything else comes from the environment
(``TOKENWARD_STORE_URL``...).

Until the accounts' password sign-in is on this branch, ``POST /test/password`` stands in for its
two outcomes: without a confirmed factor a session with ``amr`` ``["pwd"]``; with one, the
gate's ``{"mfa_required": true, "mfa_token": ...}`` (what ``/v1/auth/login`` answers then).

    python -m uvicorn mfa_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from tokenward.exceptions import DuplicateUserError
from tokenward.fastapi import Auth, CurrentUser, public, require_fresh_mfa
from tokenward.principal import Principal
from tokenward.stores import UserRecord, UserStore
from tokenward.tokens import ClientInfo, TokenPair

EMAIL = "ada@example.com"
USER_ID = "u-ada"

auth = Auth.from_env()
services = auth.services
factors = services.second_factors
assert factors is not None and services.tokens is not None
tokens = services.tokens
users: UserStore = services.store  # type: ignore[assignment]


async def sign_in_user(
    user: UserRecord,
    *,
    client: ClientInfo | None = None,
    scope: str | None = None,
    amr: Sequence[str] = ("pwd",),
) -> TokenPair:
    who = Principal(subject=user.id, credential_type="access_token", email=user.email)
    return await tokens.start(who, client=client, requested_scope=scope, amr=amr)


if factors.sign_in is None:  # the accounts' Services.sign_in_user, when it is there
    factors.sign_in = sign_in_user


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with auth.lifespan(app):
        now = time.time()
        with contextlib.suppress(DuplicateUserError):
            await users.create_user(
                UserRecord(
                    id=USER_ID, email=EMAIL, password_hash=None, created_at=now, updated_at=now
                )
            )
        yield


app = FastAPI(lifespan=lifespan)
app.include_router(auth.router)


@app.get("/v1/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/test/password", dependencies=[Depends(public())])
async def password(request: Request) -> dict[str, Any]:
    user = await users.get_user(USER_ID)
    assert user is not None and factors is not None
    client = auth.client(request)
    if await factors.required(user):
        return {"mfa_required": True, "mfa_token": await factors.begin(user, client=client)}
    return (await sign_in_user(user, client=client)).to_json()


FRESH_MFA = require_fresh_mfa(max_age=300)


@app.post("/v1/payouts")
async def payouts(user: Annotated[CurrentUser, Depends(FRESH_MFA)]) -> dict[str, Any]:
    return {"paid_by": user.sub, "amr": list(user.amr), "mfa_time": user.mfa_time}
