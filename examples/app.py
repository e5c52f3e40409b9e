"""A FastAPI backend in the usual shape, protected by tokenward. ``make demo`` runs it.

    uvicorn app:app --app-dir examples --host 127.0.0.1 --port 8000

Settings come from the environment (``TOKENWARD_*``; see docs/fastapi.md). With no
``TOKENWARD_AUTH_SECRET`` the app signs with a random per-process secret and says so.

Routes:
    GET    /v1/health                public (marked, as /v1/status)
    GET    /v1/hello                 anyone; greets the signed-in user by email
    GET    /v1/projects              any signed-in user (a sync route)
    GET    /v1/projects/{id}         any signed-in user (an async route)
    POST   /v1/projects/{id}/deploy  operator or root
    DELETE /v1/projects/{id}         root only
    GET    /v1/reports               needs the scope reports:read
    GET    /v1/status                public on purpose (public(): the route report says so)
    GET    /session                  a page signing in with cookie sessions
                                     (TOKENWARD_COOKIE_SESSIONS=true, its origin in
                                     TOKENWARD_ALLOWED_ORIGINS; docs/fastapi.md)
    GET    /passkeys                 a page registering a passkey and signing in with it
                                     (open it as http://localhost:8000; docs/passkeys.md)
    GET    /signup /signin /verify-email /change-password /forgot-password /reset-password
                                     the account pages (examples/account.html, cookie
                                     sessions as /session): sign up with TOKENWARD_SIGNUP=open;
                                     the verification and reset mails link to
                                     TOKENWARD_APP_URL/verify-email and /reset-password, and go
                                     out through TOKENWARD_SMTP_URL (or, in development, the
                                     log); docs/accounts.md
the auth router: POST /v1/auth/login, /v1/auth/refresh, /v1/auth/logout; GET /v1/auth/me;
GET/DELETE /v1/auth/sessions; POST /v1/auth/signup, /verify-email, /resend-verification,
/forgot-password, /reset-password, /change-password (the accounts); and the API keys:
POST/GET /v1/api-keys, DELETE /v1/api-keys/{id}
(an API key, ``Authorization: Bearer vk_…``, works wherever an access token does, but holds
only the scopes and groups it was made with: ``{"name": "ops", "groups": ["root"]}`` for a key
that may delete projects; and it cannot manage keys or sessions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.responses import HTMLResponse

from tokenward.fastapi import (
    Auth,
    CurrentUser,
    install_docs,
    optional_current_user,
    public,
    require_current_user,
    require_groups,
)

auth = Auth.from_env()  # TOKENWARD_AUTH_PROVIDER, TOKENWARD_AUTH_SECRET, ...
app = FastAPI(
    title="tokenward example", version="1.0", lifespan=auth.lifespan, docs_url=None, redoc_url=None
)
auth.install(app)  # the Auth on app.state, its exception handler, OpenAPI for the provider
install_docs(app)  # /docs and /redoc with their assets served by the app itself (no CDN)
app.include_router(auth.router)
if auth.api_keys is not None:  # under Cognito, API keys need TOKENWARD_AUTH_SECRET
    app.include_router(auth.api_keys_router)
if auth.key_ring is not None:  # TOKENWARD_TOKEN_ALGORITHM=ES256 (say): publish the public keys
    app.include_router(auth.jwks_router)

SignedIn = Annotated[CurrentUser, Depends(require_current_user)]
MaybeSignedIn = Annotated[CurrentUser | None, Depends(optional_current_user)]

PROJECTS: dict[str, dict[str, Any]] = {
    "apollo": {"id": "apollo", "name": "Apollo", "deployed": False},
    "gemini": {"id": "gemini", "name": "Gemini", "deployed": True},
}


def _project(project_id: str) -> dict[str, Any]:
    project = PROJECTS.get(project_id)
    if project is None:
        raise HTTPException(404, detail=f"no project {project_id!r}")
    return project


@app.get("/v1/status", tags=["public"], dependencies=[Depends(public())])
async def status() -> dict[str, str]:
    return {"service": "tokenward example"}


@app.get("/session", include_in_schema=False, dependencies=[Depends(public())])
async def session_page() -> HTMLResponse:
    """A page that signs in with cookie sessions and calls the API with fetch (no CDN)."""
    return HTMLResponse((Path(__file__).parent / "session.html").read_text(encoding="utf-8"))


@app.get("/passkeys", include_in_schema=False, dependencies=[Depends(public())])
async def passkeys_page() -> HTMLResponse:
    """A page that registers a passkey and signs in (or steps up) with it (docs/passkeys.md)."""
    return HTMLResponse((Path(__file__).parent / "passkeys.html").read_text(encoding="utf-8"))


ACCOUNT_PAGES = (
    "/signup",
    "/signin",
    "/verify-email",
    "/change-password",
    "/forgot-password",
    "/reset-password",
)


async def account_page() -> HTMLResponse:
    """One static page for every account view (its script reads the path; no CDN)."""
    page = (Path(__file__).parent / "account.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


for _path in ACCOUNT_PAGES:
    app.add_api_route(
        _path, account_page, include_in_schema=False, dependencies=[Depends(public())]
    )


@app.get("/v1/health", tags=["public"], dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/hello", tags=["public"])
async def hello(user: MaybeSignedIn) -> dict[str, str]:
    name = "guest" if user is None else (user.email or user.sub)
    return {"message": f"hello, {name}"}


@app.get("/v1/projects", tags=["projects"])
def list_projects(user: SignedIn) -> dict[str, Any]:
    return {"user": user.email, "projects": sorted(PROJECTS)}


@app.get("/v1/projects/{project_id}", tags=["projects"])
async def get_project(project_id: str, user: SignedIn) -> dict[str, Any]:
    return _project(project_id)


@app.post(
    "/v1/projects/{project_id}/deploy",
    tags=["operations"],
    dependencies=[Depends(require_groups("operator", "root"))],
)
async def deploy(project_id: str) -> dict[str, Any]:
    project = _project(project_id)
    project["deployed"] = True
    return project


@app.delete("/v1/projects/{project_id}", tags=["operations"], status_code=200)
def delete_project(
    project_id: str, user: Annotated[CurrentUser, Depends(require_groups("root"))]
) -> dict[str, str]:
    _project(project_id)
    return {"deleted": project_id, "by": user.sub}


@app.get("/v1/reports", tags=["reports"])
def reports(
    user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
) -> dict[str, Any]:
    return {"reports": ["weekly", "monthly"], "scopes": user.scopes}
