"""The app tests/test_ratelimit_uvicorn.py runs under real uvicorn: the debug login, HTTP Basic
checked by a ``check`` that counts how often it ran, and what tokenward takes the client's address
to be. Everything else comes from the environment (``TOKENWARD_STORE_URL``...).

    python -m uvicorn limits_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from tokenward.fastapi import Auth, CurrentUser, authenticate, public
from tokenward.principal import Principal

USER = "ci-bot"
PASSWORD = "s3cret"
checks = 0  # how many passwords the Basic check was asked about


async def check(username: str, password: str) -> Principal | None:
    global checks
    checks += 1
    await asyncio.sleep(0.01)  # a password hash takes a while: let concurrent checks overlap
    if username == USER and password == PASSWORD:
        return Principal(subject=USER, credential_type="basic")
    return None


auth = Auth.from_env(basic=check)
app = FastAPI(lifespan=auth.lifespan)
app.include_router(auth.router)


@app.get("/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/checks", dependencies=[Depends(public())])
async def count_checks() -> dict[str, int]:
    return {"checks": checks}


@app.get("/address", dependencies=[Depends(public())])
async def address(request: Request) -> dict[str, str | None]:
    return {"address": auth.address(request)}


@app.get("/legacy")
async def legacy(user: Annotated[CurrentUser, Depends(authenticate("basic"))]) -> dict[str, str]:
    return {"sub": user.sub}
