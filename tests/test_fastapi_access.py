"""require_entitlement, access_context and any_of in process (TestClient): the cases the uvicorn
test (test_fastapi_access_uvicorn.py) does not reach."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from _fastapi_support import SECRET, TestClient, bearer, login
from tokenward.access import AccessContext, define_access
from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    access_context,
    any_of,
    public,
    require_entitlement,
)
from tokenward.stores.sqlite import SQLiteStore

ACCESS = define_access(
    entities={"project": {"roles": ["manager"]}},
    entitlements={"project:delete": {"roles": ["manager"]}},
)


def project(request: Any) -> tuple[str, str]:
    return ("project", request.path_params["id"])


def make(tmp_path: Path, *, access: Any = ACCESS, **values: Any) -> tuple[TestClient, Auth]:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET, **values
    )
    auth = Auth(settings, store=SQLiteStore(tmp_path / "a.db"), access=access)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.delete("/projects/{id}")
    async def delete(
        id: str,
        user: Annotated[
            CurrentUser, Depends(require_entitlement("project:delete", resource=project))
        ],
    ) -> dict[str, str]:
        return {"deleted": id, "by": user.sub}

    @app.delete("/open/{id}", dependencies=[Depends(public())])
    async def open_delete(
        id: str,
        user: Annotated[
            CurrentUser, Depends(require_entitlement("project:delete", resource=project))
        ],
    ) -> dict[str, str]:
        return {"deleted": id}

    async def slow_project(request: Any) -> tuple[str, str]:
        return ("project", request.path_params["id"])

    @app.delete(
        "/async/{id}",
        dependencies=[Depends(require_entitlement("project:delete", resource=slow_project))],
    )
    async def async_delete(id: str) -> dict[str, str]:
        return {"deleted": id}

    @app.get("/context/{id}")
    async def context(
        id: str, ctx: Annotated[AccessContext, Depends(access_context)]
    ) -> dict[str, Any]:
        return {"can": await ctx.can("project:delete", ("project", id))}

    @app.get("/either", dependencies=[Depends(any_of(groups=["root"], scopes=["reports:read"]))])
    async def either() -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(app), auth


def test_the_dependency_checks_the_store(tmp_path: Path) -> None:
    client, auth = make(tmp_path)
    with client:
        headers = bearer(login(client)["access_token"])
        sub = client.get("/v1/auth/me", headers=headers).json()["sub"]
        assert client.delete("/projects/p1", headers=headers).status_code == 403
        assert client.delete("/async/p1", headers=headers).status_code == 403
        assert client.get("/context/p1", headers=headers).json() == {"can": False}
        client.portal.call(auth.store.assign_role, sub, "manager", ("project", "p1"))  # type: ignore[attr-defined]
        assert client.delete("/projects/p1", headers=headers).json() == {"deleted": "p1", "by": sub}
        assert client.delete("/async/p1", headers=headers).status_code == 200
        assert client.get("/context/p1", headers=headers).json() == {"can": True}
        # No credentials: 401, on a public() route too (an entitlement needs a user).
        assert client.delete("/projects/p1").status_code == 401
        assert client.delete("/open/p1").status_code == 401
        assert client.get("/context/p1").status_code == 401


def test_without_a_definition_the_answer_is_503_never_200(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = make(tmp_path, access=None)
    with client:
        headers = bearer(login(client)["access_token"])
        answer = client.delete("/projects/p1", headers=headers)
        assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert "need an access definition" in caplog.text


def test_a_dependency_given_a_definition_checks_the_name_at_once() -> None:
    with pytest.raises(ConfigurationError, match="unknown entitlement 'project:fly'"):
        require_entitlement("project:fly", resource=project, access=ACCESS)
    with pytest.raises(ConfigurationError):
        require_entitlement("project:delete", resource="project")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        any_of()


def test_any_of_lets_through_a_group_or_a_scope(tmp_path: Path) -> None:
    for values, status in (
        ({"debug_groups": "root", "debug_scopes": ""}, 200),  # the group
        ({"debug_groups": "member", "debug_scopes": "reports:read"}, 200),  # the scope
        ({"debug_groups": "member", "debug_scopes": ""}, 403),  # neither
    ):
        where = tmp_path / f"{status}-{values['debug_groups']}"
        where.mkdir()
        client, _ = make(where, **values)
        with client:
            headers = bearer(login(client)["access_token"])
            assert client.get("/either", headers=headers).status_code == status, values
            assert client.get("/either").status_code == 401
