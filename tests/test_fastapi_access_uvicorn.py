"""End to end: examples/access.py (require_entitlement, access_context, any_of) under a real
uvicorn process, on SQLite and on PostgreSQL; the test changes roles and the hierarchy in the
same database while the server runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from _uvicorn_support import serve
from test_fastapi_uvicorn import EMAIL, PASSWORD
from tokenward.stores import AccessStore, open_store

SECRET = "e2e-access-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
ORG = ("organization", "o1")
WS = ("workspace", "w1")


@dataclass
class App:
    http: httpx.Client
    store_url: str

    def store(self, *calls: tuple[str, tuple[object, ...]]) -> None:
        """Run store calls (method name, arguments) on a store of the server's database."""

        async def main() -> None:
            store = open_store(self.store_url)
            assert isinstance(store, AccessStore)
            try:
                for method, args in calls:
                    await getattr(store, method)(*args)
            finally:
                await store.close()  # type: ignore[attr-defined]

        asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    if request.param == "sqlite":
        store_url = "sqlite:///" + str(tmp_path / "access.db")
    else:
        store_url = request.getfixturevalue("pg_url")
    settings = {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": store_url,
        "TOKENWARD_DEBUG_GROUPS": "member",
        "EXAMPLE_PRO_ORGS": "o2",
    }
    with (
        serve("access:app", settings, workdir=tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        yield App(http, store_url)


def test_entitlements_over_http(app: App) -> None:
    http = app.http
    assert http.delete("/v1/projects/p1").status_code == 401
    assert http.get("/v1/projects?ids=p1").status_code == 401
    tokens = http.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    sub = http.get("/v1/auth/me", headers=headers).json()["sub"]

    # Outside the hierarchy: 403 naming the entitlement and every reason.
    denied = http.delete("/v1/projects/p1", headers=headers)
    assert denied.status_code == 403
    assert denied.json()["detail"] == (
        "This needs the entitlement project:delete on this resource "
        "(role_required, hierarchy_denied)."
    )
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]

    # A member of the organization reads its projects (inherited two levels), cannot delete.
    app.store(
        ("set_parent", (WS, ORG)),
        ("set_parent", (("project", "p1"), WS)),
        ("assign_role", (sub, "member", ORG)),
    )
    assert http.get("/v1/projects/p1", headers=headers).json() == {
        "project": "p1",
        "reader": sub,
    }
    denied = http.delete("/v1/projects/p1", headers=headers)
    assert denied.status_code == 403 and "(role_required)" in denied.json()["detail"]

    # As owner: delete, but export needs the pro plan, which o1 is not on.
    app.store(("assign_role", (sub, "owner", ORG)))
    assert http.delete("/v1/projects/p1", headers=headers).json() == {"deleted": "p1"}
    export = http.post("/v1/projects/p1/export", headers=headers)
    assert export.status_code == 403 and "(plan_required)" in export.json()["detail"]
    # Moving the workspace under a pro organization the user owns allows it.
    org2 = ("organization", "o2")
    app.store(("set_parent", (WS, org2)), ("assign_role", (sub, "owner", org2)))
    assert http.post("/v1/projects/p1/export", headers=headers).json() == {"exported": "p1"}

    # The access set: advisory, sparse, with its hash as the ETag.
    answer = http.get("/v1/access/set", headers=headers)
    body, etag = answer.json(), answer.headers["etag"]
    assert body["a"] == ["project:delete", "project:read"] and etag == f'"{body["h"]}"'
    assert body["p"] == {"project:export": ["pro"]}
    again = http.get("/v1/access/set", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    app.store(("revoke_role", (sub, "owner", org2)), ("revoke_role", (sub, "owner", ORG)))
    stale = http.get("/v1/access/set", headers={**headers, "If-None-Match": etag})
    assert stale.status_code == 200 and stale.json()["a"] == ["project:read"]
    assert http.get("/v1/access/set").status_code == 401
    app.store(("assign_role", (sub, "owner", org2)), ("assign_role", (sub, "owner", ORG)))

    # Bulk: one query for the list page.
    listing = http.get("/v1/projects?ids=p1,p2", headers=headers).json()
    assert listing == {
        "p1": {"read": True, "delete": True},
        "p2": {"read": False, "delete": False},
    }

    # A resource id the store refuses is the client's fault: 422, never a 500.
    assert http.get("/v1/projects/" + "x" * 300, headers=headers).status_code == 422

    # any_of: neither the group "root" nor the scope "reports:read".
    reports = http.get("/v1/reports", headers=headers)
    assert reports.status_code == 403
    assert reports.json()["detail"] == (
        "This needs membership in one of the groups: root; or one of the scopes: reports:read."
    )
