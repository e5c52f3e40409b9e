"""Strategies, roles and scopes in one backend (docs/authorization.md).

    TOKENWARD_ROLES='{"viewer": ["users.read"], "member": ["users.read", "users.write"],
                      "admin": []}' \\
    TOKENWARD_SCOPES='{"users.read": "List users", "users.write": "Change users",
                       "admin.audit": "Read the audit log"}' \\
    TOKENWARD_DEFAULT_ROLE=viewer TOKENWARD_SUPER_ADMIN_ROLE=admin TOKENWARD_DEBUG_GROUPS=admin \\
    EXAMPLE_BOT_PASSWORD=change-me \\
    uvicorn authz:app --app-dir examples --host 127.0.0.1 --port 8000

Routes:
    GET  /v1/health            public
    GET  /v1/users             scope users.read (every role has it, the default role too)
    POST /v1/users             scope users.write (member, admin)
    GET  /v1/audit             scope admin.audit (only the super-admin role has it)
    GET  /v1/builds            an access token or HTTP Basic (the build bot)
    GET  /v1/internal/metrics  any signed-in user (the router's dependency)
    GET  /v1/internal/status   public on purpose, under that router
and the auth router: POST /v1/auth/login, /refresh, /logout; GET /v1/auth/me.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Security

from tokenward.fastapi import (
    Auth,
    CurrentUser,
    Principal,
    authenticate,
    public,
    require_current_user,
)

BOT = "build-bot"


async def check_basic(username: str, password: str) -> Principal | None:
    """HTTP Basic for the build bot; a real app would look the user up in its database."""
    expected = os.environ.get("EXAMPLE_BOT_PASSWORD", "")
    user_ok = hmac.compare_digest(username.encode(), BOT.encode())
    password_ok = hmac.compare_digest(password.encode(), expected.encode())
    if not (expected and user_ok and password_ok):
        return None
    return Principal(subject=BOT, credential_type="basic", groups=("member",))


auth = Auth.from_env(basic=check_basic)
app = FastAPI(title="tokenward authorization example", lifespan=auth.lifespan)
auth.install(app)  # now, so that AuthorizationError raised below is a 403
app.include_router(auth.router)


def who(user: CurrentUser) -> dict[str, Any]:
    return {"sub": user.sub, "via": user.credential_type, "scopes": user.scopes}


@app.get("/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/users")
def list_users(
    user: Annotated[CurrentUser, Security(require_current_user, scopes=["users.read"])],
) -> dict[str, Any]:
    return who(user)


@app.post("/v1/users")
def create_user(
    user: Annotated[CurrentUser, Security(require_current_user, scopes=["users.write"])],
) -> dict[str, Any]:
    return who(user)


@app.get("/v1/audit")
def audit(
    user: Annotated[CurrentUser, Security(require_current_user, scopes=["admin.audit"])],
) -> dict[str, Any]:
    return who(user)


@app.get("/v1/builds")
def builds(
    user: Annotated[CurrentUser, Depends(authenticate("jwt", "basic"))],
) -> dict[str, Any]:
    return who(user)


internal = APIRouter(prefix="/v1/internal", dependencies=[Depends(require_current_user)])


@internal.get("/metrics")
def metrics() -> dict[str, int]:
    return {"requests": 42}


@internal.get("/status", dependencies=[Depends(public())])
def status() -> dict[str, str]:
    return {"status": "green"}


app.include_router(internal)
