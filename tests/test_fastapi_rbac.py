"""Roles → scopes over HTTP with the custom provider: ROLES, SCOPES, DEFAULT_ROLE,
SUPER_ADMIN_ROLE; effective scopes in CurrentUser and Security(...); OpenAPI; start-up checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from _fastapi_support import SECRET, Clock, TestClient, bearer, login, make_app
from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import Auth, AuthSettings

ROLES = {
    "viewer": ["reports:read"],
    "operator": ["reports:read", "users.write"],
    "root": [],
}
SCOPES = {
    "reports:read": "Read the reports",
    "reports:write": "Write the reports",
    "users.write": "Change users",
}


def rbac(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "roles": json.dumps(ROLES),
        "scopes": json.dumps(SCOPES),
        "default_role": "viewer",
        "super_admin_role": "root",
        "debug_scopes": "",
    }
    values.update(overrides)
    return values


def client_for(**overrides: Any) -> TestClient:
    app, _ = make_app(clock=Clock(), **rbac(**overrides))
    return TestClient(app)


@pytest.fixture
def operator() -> Iterator[tuple[TestClient, dict[str, str]]]:
    with client_for(debug_groups="operator") as client:
        yield client, bearer(login(client)["access_token"])


def test_roles_grant_scopes(operator: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = operator
    me = client.get("/v1/auth/me", headers=headers).json()
    assert me["groups"] == ["operator"]
    assert me["scopes"] == ["reports:read", "users.write"]
    assert client.get("/reports", headers=headers).json() == {
        "scopes": ["reports:read", "users.write"]
    }
    missing = client.get("/admin-reports", headers=headers)
    assert missing.status_code == 403
    assert missing.json() == {"detail": "This needs the scopes: reports:write."}
    challenge = missing.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="reports:write"' in challenge


def test_token_scopes_come_first_and_count_too() -> None:
    with client_for(debug_groups="operator", debug_scopes="reports:write") as client:
        headers = bearer(login(client)["access_token"])
        me = client.get("/v1/auth/me", headers=headers).json()
        assert me["scopes"] == ["reports:write", "reports:read", "users.write"]
        assert client.get("/admin-reports", headers=headers).status_code == 200


def test_super_admin_holds_every_declared_scope() -> None:
    with client_for(debug_groups="root,operator") as client:
        headers = bearer(login(client)["access_token"])
        scopes = client.get("/v1/auth/me", headers=headers).json()["scopes"]
        assert set(scopes) == set(SCOPES)
        assert client.get("/admin-reports", headers=headers).status_code == 200


def test_no_known_role_means_the_default_role() -> None:
    with client_for(debug_groups="staff") as client:
        headers = bearer(login(client)["access_token"])
        me = client.get("/v1/auth/me", headers=headers).json()
        assert me["groups"] == ["staff"]  # groups stay what the token says
        assert me["scopes"] == ["reports:read"]
        assert client.get("/reports", headers=headers).status_code == 200
        assert client.get("/admin-reports", headers=headers).status_code == 403
        assert client.get("/root", headers=headers).status_code == 403  # roles are no groups


def test_an_accounts_roles_grant_scopes() -> None:
    """Issue 22: ROLES maps an account's roles (UserRecord.roles, the ``roles`` claim) to
    scopes as it does groups: a route with Security(scopes=...) passes for a user with the
    role, and a role is no group (require_groups still looks at groups only)."""
    cheap = {"password_hash_passes": 2, "password_hash_memory_kib": 19456}
    app, auth = make_app(clock=Clock(), **rbac(default_role="", **cheap))
    api = auth.api
    assert api is not None
    with TestClient(app) as client:
        client.portal.call(
            lambda: api.create_user("ann@example.com", "a long passphrase", roles=["viewer"])
        )
        bo_user = client.portal.call(lambda: api.create_user("bo@example.com", "a long passphrase"))
        ann = login(client, "ann@example.com", "a long passphrase")
        headers = bearer(ann["access_token"])
        me = client.get("/v1/auth/me", headers=headers).json()
        assert me["groups"] == [] and me["scopes"] == ["reports:read"]
        assert client.get("/reports", headers=headers).status_code == 200
        assert client.get("/admin-reports", headers=headers).status_code == 403
        assert client.get("/operator", headers=headers).status_code == 403  # roles are no groups
        bo = login(client, "bo@example.com", "a long passphrase")
        assert client.get("/reports", headers=bearer(bo["access_token"])).status_code == 403
        # a role given later shows from the next refresh on (it re-reads the user)
        client.portal.call(lambda: api.set_groups(bo_user.id, [], roles=["operator"]))
        fresh = client.post("/v1/auth/refresh", json={"refresh_token": bo["refresh_token"]})
        assert fresh.status_code == 200, fresh.text
        again = bearer(fresh.json()["access_token"])
        assert client.get("/v1/auth/me", headers=again).json()["scopes"] == [
            "reports:read",
            "users.write",
        ]
        assert client.get("/reports", headers=again).status_code == 200


def test_without_a_default_role_no_role_means_no_scopes() -> None:
    with client_for(debug_groups="staff", default_role="") as client:
        headers = bearer(login(client)["access_token"])
        assert client.get("/v1/auth/me", headers=headers).json()["scopes"] == []
        assert client.get("/reports", headers=headers).status_code == 403


def test_openapi_lists_the_declared_scopes(operator: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = operator
    doc = client.get("/openapi.json").json()
    flow = doc["components"]["securitySchemes"]["tokenward"]["flows"]["password"]
    assert flow["scopes"] == SCOPES
    assert doc["paths"]["/admin-reports"]["get"]["security"] == [{"tokenward": ["reports:write"]}]
    for path in ("/reports", "/admin-reports", "/sync", "/operator"):
        assert {"401", "403"} <= set(doc["paths"][path]["get"]["responses"]), path


def test_openapi_without_scopes_lists_role_and_debug_scopes() -> None:
    values = rbac(scopes="", debug_scopes="extra:scope")
    app, _ = make_app(clock=Clock(), **values)
    with TestClient(app) as client:
        flow = client.get("/openapi.json").json()["components"]["securitySchemes"]["tokenward"]
        scopes = flow["flows"]["password"]["scopes"]
        assert scopes == {
            "reports:read": "reports:read",
            "users.write": "users.write",
            "extra:scope": "extra:scope",
        }


def test_a_route_asking_for_an_undeclared_scope_stops_start_up() -> None:
    declared = {k: v for k, v in SCOPES.items() if k != "reports:write"}
    app, auth = make_app(clock=Clock(), **rbac(scopes=json.dumps(declared)))
    with pytest.raises(ConfigurationError) as caught:
        auth.install(app)
    message = str(caught.value)
    assert "GET /admin-reports" in message and "reports:write" in message
    assert "TOKENWARD_TEST_ISOLATED_SCOPES" in message
    with pytest.raises(ConfigurationError, match="/admin-reports"), TestClient(app):
        pass


def test_undeclared_scopes_are_fine_when_none_are_declared() -> None:
    app, auth = make_app(clock=Clock(), **rbac(scopes=""))
    auth.install(app)  # reports:write is in no role and no SCOPES: nothing to hold it against


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = "TOKENWARD_TEST_RBAC_"
    monkeypatch.setenv(prefix + "AUTH_SECRET", SECRET)
    monkeypatch.setenv(prefix + "ROLES", json.dumps(ROLES))
    monkeypatch.setenv(prefix + "SCOPES", json.dumps(SCOPES))
    monkeypatch.setenv(prefix + "DEFAULT_ROLE", "viewer")
    monkeypatch.setenv(prefix + "SUPER_ADMIN_ROLE", "root")
    auth = Auth.from_env(prefix=prefix)
    assert auth.roles.roles["operator"] == ("reports:read", "users.write")
    assert auth.roles.declared_scopes == SCOPES
    assert auth.roles.default_role == "viewer" and auth.roles.super_admin_role == "root"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ROLES", "{not json", "ROLES"),
        ("ROLES", '["viewer"]', "ROLES"),
        ("ROLES", '{"viewer": "reports:read"}', "ROLES"),
        ("SCOPES", '{"reports:read": 1}', "SCOPES"),
        ("DEFAULT_ROLE", "guest", "the default role 'guest' is not one of the roles"),
        ("SUPER_ADMIN_ROLE", "god", "the super-admin role 'god'"),
        ("SCOPES", '{"reports:read": "r"}', "role 'operator' grants scopes that are not declared"),
    ],
)
def test_bad_role_settings_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    prefix = "TOKENWARD_TEST_RBAC_BAD_"
    monkeypatch.setenv(prefix + "AUTH_SECRET", SECRET)
    monkeypatch.setenv(prefix + "ROLES", json.dumps(ROLES))
    monkeypatch.setenv(prefix + variable, value)
    with pytest.raises(ConfigurationError, match=message):
        Auth(AuthSettings.from_env(prefix=prefix))


def test_application_code_may_raise_authorization_error(caplog: pytest.LogCaptureFixture) -> None:
    from fastapi import FastAPI

    from tokenward.exceptions import AuthorizationError

    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET)
    auth = Auth(settings)

    def refuse() -> None:
        raise AuthorizationError("not the owner", subject="u1", groups=("owners",))

    # handlers given to FastAPI(...)
    app = FastAPI(lifespan=auth.lifespan, exception_handlers=auth.exception_handlers)
    app.add_api_route("/owned", refuse)
    with TestClient(app) as client:
        response = client.get("/owned")
        assert response.status_code == 403
        assert response.json() == {"detail": "This needs membership in one of the groups: owners."}
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    # only the lifespan: too late to register the handler, and the log says so
    late = FastAPI(lifespan=auth.lifespan)
    late.add_api_route("/owned", refuse)
    with caplog.at_level("INFO", logger="tokenward"), TestClient(late):
        pass
    assert "call auth.install(app) right after creating the app" in caplog.text


def test_an_application_authorization_error_keeps_its_message() -> None:
    """Issue 20 item 16: ``AuthorizationError("not the owner")`` raised by a route answers 403
    with its own message, not "This needs the scopes: ." (an empty list is never printed)."""
    from fastapi import FastAPI

    from tokenward.exceptions import AuthorizationError

    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET)
    auth = Auth(settings)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)

    def not_the_owner() -> None:
        raise AuthorizationError("not the owner", subject="u1")

    def bare() -> None:
        raise AuthorizationError("")

    app.add_api_route("/owned", not_the_owner)
    app.add_api_route("/bare", bare)
    with TestClient(app) as client:
        response = client.get("/owned")
        assert response.status_code == 403
        assert response.json() == {"detail": "not the owner"}
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and "scope=" not in challenge
        empty = client.get("/bare")
        assert empty.status_code == 403
        assert empty.json() == {"detail": "The caller may not do this."}
    from tokenward.fastapi.errors import forbidden

    assert forbidden().detail == "The caller may not do this."  # never "the scopes: ."
