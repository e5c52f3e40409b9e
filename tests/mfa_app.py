"""The app tests/test_mfa_uvicorn.py runs under real uvicorn: tokenward's auth router (password
sign-in of the accounts, and the second-factor routes), a route behind
``require_fresh_mfa(max_age=300)``, and one account, ``ada@example.com`` (created at start-up
with the password ``PASSWORD``). Everything else comes from the environment
(``TOKENWARD_STORE_URL``...).

    python -m uvicorn mfa_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from tokenward.exceptions import DuplicateUserError
from tokenward.fastapi import Auth, CurrentUser, public, require_fresh_mfa

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"

auth = Auth.from_env()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with auth.lifespan(app):
        with contextlib.suppress(DuplicateUserError):
            await auth.services.require_accounts().create_user(EMAIL, PASSWORD)
        yield


app = FastAPI(lifespan=lifespan)
app.include_router(auth.router)


@app.get("/v1/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok"}


FRESH_MFA = require_fresh_mfa(max_age=300)


@app.post("/v1/payouts")
async def payouts(user: Annotated[CurrentUser, Depends(FRESH_MFA)]) -> dict[str, Any]:
    return {"paid_by": user.sub, "amr": list(user.amr), "mfa_time": user.mfa_time}
