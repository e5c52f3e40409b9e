"""Shared pieces of the FastAPI tests: a test app, a clock, and TestClient."""

from __future__ import annotations

import warnings
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security

from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    optional_current_user,
    require_current_user,
    require_groups,
)
from tokenward.stores import Store

# Starlette warns at import when it finds httpx but not httpx2; the warning is about Starlette's
# own test client and says nothing about tokenward, so it is silenced for this one import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = [
    "EMAIL",
    "PASSWORD",
    "SECRET",
    "Clock",
    "TestClient",
    "login",
    "make_app",
    "store_factory",
]

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"


class Clock:
    """A settable clock, starting at a fixed real-looking time."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(
    *, clock: Clock | None = None, store: Store | None = None, **overrides: Any
) -> tuple[FastAPI, Auth]:
    """An app with routes of every kind, and its Auth."""
    values: dict[str, Any] = {"auth_secret": SECRET, "debug_scopes": "reports:read"}
    values.update(overrides)
    # A prefix of its own, so TOKENWARD_* variables of the machine cannot leak into the tests.
    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values)
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    if store is not None:
        kwargs["store"] = store
    auth = Auth(settings, **kwargs)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/sync")
    def sync_route(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        return {"sub": user.sub, "kind": "sync"}

    @app.get("/async")
    async def async_route(
        user: Annotated[CurrentUser, Depends(require_current_user)],
    ) -> dict[str, Any]:
        return {"sub": user.sub, "kind": "async"}

    @app.get("/optional")
    async def optional(
        user: Annotated[CurrentUser | None, Depends(optional_current_user)],
    ) -> dict[str, Any]:
        return {"sub": None if user is None else user.sub}

    @app.get("/operator", dependencies=[Depends(require_groups("operator", "root"))])
    def operator() -> dict[str, str]:
        return {"ok": "operator"}

    @app.get("/root")
    async def root(user: Annotated[CurrentUser, Depends(require_groups("root"))]) -> dict[str, Any]:
        return {"ok": "root", "groups": user.groups}

    @app.get("/auditor", dependencies=[Depends(require_groups("auditor"))])
    def auditor() -> dict[str, str]:
        return {"ok": "auditor"}

    @app.get("/reports")
    def reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> dict[str, Any]:
        return {"scopes": user.scopes}

    @app.get("/admin-reports")
    async def admin_reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:write"])],
    ) -> dict[str, Any]:
        return {"scopes": user.scopes}

    return app, auth


def login(client: Any, email: str = EMAIL, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def store_factory(kind: str, tmp_path: Any, pg_url: str | None = None) -> Any:
    """A function making stores on one fresh database of ``kind`` ("sqlite" or "postgres"); each
    call is another instance (another connection) on the same data, as another process would
    have."""
    if kind == "sqlite":
        from tokenward.stores.sqlite import SQLiteStore

        path = tmp_path / "tokenward.db"
        return lambda: SQLiteStore(path)
    from tokenward.stores.postgres import PostgresStore

    assert pg_url is not None
    return lambda: PostgresStore(pg_url)
