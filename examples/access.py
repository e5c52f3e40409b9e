"""Entitlements on resources (docs/access-control.md): organizations hold workspaces, which hold
projects; roles pass down; exporting needs the "pro" plan.

    TOKENWARD_STORE_URL=sqlite:///access.db EXAMPLE_PRO_ORGS=o1 \\
    uvicorn access:app --app-dir examples --host 127.0.0.1 --port 8000

Roles and the hierarchy are the store's (``tokenward access``... or your own admin code:
``await auth.store.set_parent(("project", "p1"), ("workspace", "w1"))``,
``await auth.store.assign_role(user_id, "owner", ("organization", "o1"))``).

Routes:
    GET    /v1/health                public
    GET    /v1/projects?ids=a,b      which of the projects the user may read and delete (one query)
    GET    /v1/projects/{id}         entitlement project:read
    DELETE /v1/projects/{id}         entitlement project:delete
    POST   /v1/projects/{id}/export  entitlement project:export (a role, and the pro plan)
    GET    /v1/reports               group "root" OR scope "reports:read"
    GET    /v1/access/set            the user's access set (ETag; 304 while it is current)
and the auth router: POST /v1/auth/login, /refresh, /logout; GET /v1/auth/me.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from tokenward.access import AccessContext, define_access
from tokenward.fastapi import (
    Auth,
    CurrentUser,
    access_context,
    any_of,
    build_access_set_router,
    require_entitlement,
)
from tokenward.stores import Resource

access = define_access(
    entities={
        "organization": {"roles": ["owner", "member"]},
        "workspace": {
            "roles": ["admin", "viewer"],
            "inherits": {"organization:owner": "admin", "organization:member": "viewer"},
        },
        "project": {
            "roles": ["manager", "viewer"],
            "inherits": {"workspace:admin": "manager", "workspace:viewer": "viewer"},
        },
    },
    entitlements={
        "project:read": {"roles": ["viewer", "manager"]},
        "project:delete": {"roles": ["manager"]},
        "project:export": {"roles": ["manager"], "plans": ["pro"]},
    },
    plans={"free": "Free", "pro": "Pro"},
)

PRO_ORGS = frozenset(filter(None, os.environ.get("EXAMPLE_PRO_ORGS", "").split(",")))


def plan_of(chain: tuple[Resource, ...]) -> str:
    """The plan of the organization at the top of the resource's chain."""
    root = chain[-1]
    return "pro" if root[0] == "organization" and root[1] in PRO_ORGS else "free"


def project(request: Request) -> Resource:
    return ("project", request.path_params["id"])


auth = Auth.from_env(access=access)
app = FastAPI(title="tokenward access-control example", lifespan=auth.lifespan)
auth.install(app)
app.include_router(auth.router)
app.include_router(build_access_set_router())


@app.get("/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/projects")
async def projects(
    ids: str, ctx: Annotated[AccessContext, Depends(access_context)]
) -> dict[str, Any]:
    wanted = [("project", i) for i in dict.fromkeys(ids.split(",")) if i][:50]
    answers = await ctx.can_all(
        [(e, p) for p in wanted for e in ("project:read", "project:delete")]
    )
    return {
        p[1]: {"read": answers[("project:read", p)], "delete": answers[("project:delete", p)]}
        for p in wanted
    }


@app.get("/v1/projects/{id}")
async def read_project(
    id: str,
    user: Annotated[CurrentUser, Depends(require_entitlement("project:read", resource=project))],
) -> dict[str, str]:
    return {"project": id, "reader": user.sub}


@app.delete("/v1/projects/{id}")
async def delete_project(
    id: str,
    user: Annotated[CurrentUser, Depends(require_entitlement("project:delete", resource=project))],
) -> dict[str, str]:
    return {"deleted": id}


@app.post("/v1/projects/{id}/export")
async def export_project(
    id: str,
    user: Annotated[
        CurrentUser,
        Depends(require_entitlement("project:export", resource=project, plan_of=plan_of)),
    ],
) -> dict[str, str]:
    return {"exported": id}


@app.get("/v1/reports", dependencies=[Depends(any_of(groups=["root"], scopes=["reports:read"]))])
async def reports() -> dict[str, str]:
    return {"reports": "ok"}
