"""The FastAPI layer through TestClient: login, me, 401/403, refresh rotation, logout, OpenAPI."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Security
from pydantic import SecretStr

from _fastapi_support import EMAIL, PASSWORD, SECRET, Clock, TestClient, bearer, login, make_app
from tokenward import ConfigurationError
from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    bearer_scheme,
    optional_current_user,
    require_current_user,
    require_groups,
)
from tokenward.fastapi.providers import CustomProvider


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient]:
    app, _ = make_app(clock=clock)
    with TestClient(app) as c:
        yield c


def assert_401(response: Any, *, token_sent: bool) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if token_sent:
        assert 'error="invalid_token"' in challenge
    else:
        assert challenge == "Bearer"
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert "/v1/auth/" in detail  # says where to get a token


def assert_403(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert "needs" in response.json()["detail"]


# --- login and me -------------------------------------------------------------------------------


def test_login_with_json_returns_a_token_pair(client: TestClient) -> None:
    body = login(client)
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"].startswith("twr_")


def test_login_with_the_oauth2_password_form(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login",
        data={"grant_type": "password", "username": EMAIL, "password": PASSWORD, "scope": ""},
    )
    assert response.status_code == 200, response.text
    me = client.get("/v1/auth/me", headers=bearer(response.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == EMAIL


def test_login_form_with_another_grant_type_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login",
        data={"grant_type": "client_credentials", "username": EMAIL, "password": PASSWORD},
    )
    assert response.status_code == 400


def test_me_describes_the_debug_user(client: TestClient) -> None:
    tokens = login(client)
    response = client.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == EMAIL
    assert me["groups"] == ["root", "operator"]
    assert me["scopes"] == ["reports:read"]
    assert me["provider"] == "custom"
    assert me["claims"]["token_use"] == "access"
    assert me["claims"]["cognito:groups"] == ["root", "operator"]
    assert me["claims"]["sub"] == me["sub"]
    assert me["claims"]["exp"] - me["claims"]["iat"] == 900
    # a stable, UUID-shaped subject, like Cognito's
    assert len(me["sub"]) == 36
    assert login(client) != tokens
    second = client.get("/v1/auth/me", headers=bearer(login(client)["access_token"]))
    assert second.json()["sub"] == me["sub"]


def test_login_email_ignores_case_and_surrounding_space(client: TestClient) -> None:
    login(client, email="  Debug@Example.COM ")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (EMAIL, "wrong-password"),
        ("someone@example.com", PASSWORD),
        ("someone@example.com", "wrong-password"),
        (EMAIL, PASSWORD + " "),
        (EMAIL, PASSWORD.upper()),
    ],
)
def test_wrong_login_gets_one_answer(client: TestClient, email: str, password: str) -> None:
    response = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect email or password."}
    assert response.headers["www-authenticate"] == "Bearer"


def test_credentials_are_compared_fully_whichever_is_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both comparisons run, in constant time, for every combination."""
    _, auth = make_app()
    provider = auth.provider
    assert isinstance(provider, CustomProvider)
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for email, password in [(EMAIL, PASSWORD), ("x@y.z", PASSWORD), (EMAIL, "x"), ("x", "y")]:
        calls.clear()
        provider.check_credentials(email, password)
        # always two comparisons of fixed-length digests, never a short-circuit
        assert calls == [(32, 32), (32, 32)]


def test_login_scope_narrows_the_granted_scopes(clock: Clock) -> None:
    app, _ = make_app(clock=clock, debug_scopes="reports:read reports:write")
    with TestClient(app) as client:
        narrowed = client.post(
            "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "scope": "reports:read"}
        ).json()
        me = client.get("/v1/auth/me", headers=bearer(narrowed["access_token"])).json()
        assert me["scopes"] == ["reports:read"]
        unknown = client.post(
            "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "scope": "root:all"}
        ).json()
        me = client.get("/v1/auth/me", headers=bearer(unknown["access_token"])).json()
        assert me["scopes"] == []
        everything = login(client)
        me = client.get("/v1/auth/me", headers=bearer(everything["access_token"])).json()
        assert me["scopes"] == ["reports:read", "reports:write"]


# --- 401 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sync", "/async", "/v1/auth/me", "/operator", "/reports"])
def test_no_token_is_401_without_an_error_code(client: TestClient, path: str) -> None:
    assert_401(client.get(path), token_sent=False)


def test_another_auth_scheme_counts_as_no_token(client: TestClient) -> None:
    assert_401(
        client.get("/sync", headers={"Authorization": "Basic dXNlcjpwYXNz"}), token_sent=False
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer garbage",
        "bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
        "Bearer " + "A" * 100_000,
        "Bearer twr_" + "A" * 43,
    ],
)
def test_bad_tokens_are_401_invalid_token(client: TestClient, header: str) -> None:
    assert_401(client.get("/sync", headers={"Authorization": header}), token_sent=True)


def test_expired_token_is_401_and_says_to_refresh(client: TestClient, clock: Clock) -> None:
    tokens = login(client)
    assert client.get("/sync", headers=bearer(tokens["access_token"])).status_code == 200
    clock.advance(900)
    response = client.get("/sync", headers=bearer(tokens["access_token"]))
    assert_401(response, token_sent=True)
    assert "expired" in response.headers["www-authenticate"]
    assert "/v1/auth/refresh" in response.json()["detail"]


def test_token_signed_with_another_secret_is_401(client: TestClient, clock: Clock) -> None:
    other_app, _ = make_app(clock=clock, auth_secret="another-secret-" + "x" * 40)
    with TestClient(other_app) as other:
        foreign = login(other)["access_token"]
    assert_401(client.get("/sync", headers=bearer(foreign)), token_sent=True)


def test_token_from_another_issuer_is_401(client: TestClient, clock: Clock) -> None:
    other_app, _ = make_app(clock=clock, token_issuer="somebody-else")
    with TestClient(other_app) as other:
        foreign = login(other)["access_token"]
    assert_401(client.get("/sync", headers=bearer(foreign)), token_sent=True)


def test_tampered_token_is_401(client: TestClient) -> None:
    token = login(client)["access_token"]
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert_401(
        client.get("/sync", headers=bearer(f"{header}.{payload}.{flipped}")), token_sent=True
    )
    assert_401(
        client.get("/sync", headers=bearer(f"{header}.{payload[:-1]}.{signature}")), token_sent=True
    )


def test_refresh_token_is_not_an_access_token(client: TestClient) -> None:
    tokens = login(client)
    assert_401(client.get("/sync", headers=bearer(tokens["refresh_token"])), token_sent=True)
    assert_401(client.get("/v1/auth/me", headers=bearer(tokens["refresh_token"])), token_sent=True)


def test_access_token_is_not_a_refresh_token(client: TestClient) -> None:
    tokens = login(client)
    response = client.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert_401(response, token_sent=True)


# --- 403 ----------------------------------------------------------------------------------------


def test_groups_let_members_through(client: TestClient) -> None:
    headers = bearer(login(client)["access_token"])
    assert client.get("/operator", headers=headers).json() == {"ok": "operator"}
    assert client.get("/root", headers=headers).json()["ok"] == "root"


def test_missing_group_is_403_insufficient_scope(client: TestClient) -> None:
    response = client.get("/auditor", headers=bearer(login(client)["access_token"]))
    assert_403(response)
    assert "auditor" in response.json()["detail"]


def test_operator_is_not_root(clock: Clock) -> None:
    app, _ = make_app(clock=clock, debug_groups="operator")
    with TestClient(app) as client:
        headers = bearer(login(client)["access_token"])
        assert client.get("/operator", headers=headers).status_code == 200
        assert_403(client.get("/root", headers=headers))


def test_user_without_groups_gets_403_not_401(clock: Clock) -> None:
    app, _ = make_app(clock=clock, debug_groups="")
    with TestClient(app) as client:
        headers = bearer(login(client)["access_token"])
        assert client.get("/sync", headers=headers).status_code == 200
        assert_403(client.get("/operator", headers=headers))
        assert_403(client.get("/root", headers=headers))


def test_scopes_through_security(client: TestClient) -> None:
    headers = bearer(login(client)["access_token"])
    assert client.get("/reports", headers=headers).json() == {"scopes": ["reports:read"]}
    response = client.get("/admin-reports", headers=headers)
    assert_403(response)
    assert 'scope="reports:write"' in response.headers["www-authenticate"]


def test_without_the_scope_is_403(clock: Clock) -> None:
    app, _ = make_app(clock=clock, debug_scopes="")
    with TestClient(app) as client:
        assert_403(client.get("/reports", headers=bearer(login(client)["access_token"])))


def test_groups_and_scopes_together(clock: Clock) -> None:
    app, _ = make_app(clock=clock)

    @app.get("/root-writer")
    def root_writer(
        user: Annotated[CurrentUser, Security(require_groups("root"), scopes=["reports:write"])],
    ) -> str:
        return user.sub

    @app.get("/root-reader")
    def root_reader(
        user: Annotated[CurrentUser, Security(require_groups("root"), scopes=["reports:read"])],
    ) -> str:
        return user.sub

    with TestClient(app) as client:
        headers = bearer(login(client)["access_token"])
        assert_403(client.get("/root-writer", headers=headers))
        assert client.get("/root-reader", headers=headers).status_code == 200
        security = client.get("/openapi.json").json()["paths"]["/root-writer"]["get"]["security"]
        assert security == [{"tokenward": ["reports:write"]}]


def test_require_groups_needs_a_group() -> None:
    with pytest.raises(ConfigurationError):
        require_groups()
    with pytest.raises(ConfigurationError):
        require_groups("")


def test_groups_still_need_a_token(client: TestClient) -> None:
    assert_401(client.get("/root"), token_sent=False)
    assert_401(client.get("/root", headers=bearer("nope")), token_sent=True)


# --- sync and async routes, optional user -------------------------------------------------------


def test_same_dependency_in_sync_and_async_routes(client: TestClient) -> None:
    headers = bearer(login(client)["access_token"])
    sync = client.get("/sync", headers=headers).json()
    asynchronous = client.get("/async", headers=headers).json()
    assert sync["sub"] == asynchronous["sub"]
    assert (sync["kind"], asynchronous["kind"]) == ("sync", "async")
    for path in ("/sync", "/async"):
        assert_401(client.get(path), token_sent=False)
        assert_401(client.get(path, headers=bearer("x.y.z")), token_sent=True)


def test_optional_current_user(client: TestClient) -> None:
    assert client.get("/optional").json() == {"sub": None}
    tokens = login(client)
    assert client.get("/optional", headers=bearer(tokens["access_token"])).json()["sub"]
    # a token that was sent must be good: never silently anonymous
    assert_401(client.get("/optional", headers=bearer("garbage")), token_sent=True)


def test_one_token_is_verified_once_per_request(clock: Clock) -> None:
    app, auth = make_app(clock=clock)
    calls: list[str] = []
    authenticate = auth.provider.authenticate

    async def counting(token: str) -> CurrentUser:
        calls.append(token)
        return await authenticate(token)

    auth.provider.authenticate = counting  # type: ignore[method-assign]

    @app.get("/both", dependencies=[Depends(require_groups("root"))])
    def both(
        user: Annotated[CurrentUser, Depends(require_current_user)],
        reader: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
        maybe: Annotated[CurrentUser | None, Depends(optional_current_user)],
    ) -> dict[str, bool]:
        return {"same": user is reader is maybe}

    with TestClient(app) as client:
        token = login(client)["access_token"]
        assert client.get("/both", headers=bearer(token)).json() == {"same": True}
        assert calls == [token]
        assert client.get("/both", headers=bearer(token)).json() == {"same": True}
        assert calls == [token, token]  # the next request verifies again


def test_requests_with_the_same_token_share_a_user_nobody_can_change(clock: Clock) -> None:
    # The provider remembers a token's Principal and the Auth its CurrentUser: every request
    # with that token gets the same immutable user, so what one request tries to do to it
    # cannot reach the next.
    app, auth = make_app(clock=clock, debug_groups="user")
    seen: list[CurrentUser] = []

    @app.get("/meddle")
    def meddle(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        seen.append(user)
        refused = []
        for change in (
            lambda: user.groups.append("root"),
            lambda: user.scopes.append("reports:write"),
            lambda: user.claims["cognito:groups"].append("root"),
            lambda: user.claims.update(sub="somebody-else"),
        ):
            try:
                change()
            except TypeError:
                refused.append(True)
        return {"groups": user.groups, "claim": user.claims["cognito:groups"], "refused": refused}

    with TestClient(app) as client:
        token = login(client)["access_token"]
        for _ in range(3):
            assert client.get("/meddle", headers=bearer(token)).json() == {
                "groups": ["user"],
                "claim": ["user"],
                "refused": [True] * 4,
            }
        assert seen[0] is seen[1] is seen[2]
        assert client.get("/root", headers=bearer(token)).status_code == 403
        assert client.get("/admin-reports", headers=bearer(token)).status_code == 403
        assert client.get("/v1/auth/me", headers=bearer(token)).json()["groups"] == ["user"]
        assert len(auth.provider.memo) == 1  # type: ignore[attr-defined]
        other = login(client)["access_token"]  # another token: another user
        client.get("/meddle", headers=bearer(other))
        assert seen[-1] is not seen[0] and seen[-1].claims["jti"] != seen[0].claims["jti"]


def test_a_remembered_token_is_still_checked_on_every_request(clock: Clock) -> None:
    app, auth = make_app(clock=clock)
    with TestClient(app) as client:
        token = login(client)["access_token"]
        assert client.get("/sync", headers=bearer(token)).status_code == 200
        assert auth.provider.memo.get(token) is not None  # type: ignore[attr-defined]
        clock.advance(900)  # past the access token's exp
        assert_401(client.get("/sync", headers=bearer(token)), token_sent=True)


def test_token_cache_size_zero_turns_the_principal_memo_off(clock: Clock) -> None:
    app, auth = make_app(clock=clock, token_cache_size=0)
    with TestClient(app) as client:
        token = login(client)["access_token"]
        assert client.get("/sync", headers=bearer(token)).status_code == 200
        assert len(auth.provider.memo) == 0  # type: ignore[attr-defined]


def test_dependencies_are_one_level_and_the_security_scheme() -> None:
    """require_current_user and optional_current_user read the header themselves: FastAPI
    resolves one dependency, not a function and then bearer_scheme (each level costs a request
    about as much as verifying a custom token); OpenAPI still sees the tokenward scheme."""
    from fastapi.dependencies.utils import get_dependant
    from fastapi.security.base import SecurityBase

    for dependency in (require_current_user, optional_current_user):
        assert isinstance(dependency, SecurityBase)
        assert dependency.scheme_name == bearer_scheme.scheme_name == "tokenward"
        assert dependency.model == bearer_scheme.model
        assert get_dependant(path="/", call=dependency).dependencies == []
    assert repr(require_current_user) == "<tokenward.fastapi.require_current_user>"


def test_dependency_overrides_replace_the_user(clock: Clock) -> None:
    app, _ = make_app(clock=clock)
    fake = CurrentUser(sub="fake", groups=["root"], provider="test")
    app.dependency_overrides[require_current_user] = lambda: fake
    with TestClient(app) as client:
        assert client.get("/sync").json()["sub"] == "fake"
        assert client.get("/root").status_code == 200  # require_groups builds on it


def test_public_route_needs_nothing(client: TestClient) -> None:
    assert client.get("/public").json() == {"ok": "yes"}


# --- refresh, reuse, grace, logout -------------------------------------------------------------


def refresh(client: TestClient, token: str) -> Any:
    return client.post("/v1/auth/refresh", json={"refresh_token": token})


def test_refresh_rotates_the_pair(client: TestClient, clock: Clock) -> None:
    first = login(client)
    clock.advance(60)
    response = refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 900
    me = client.get("/v1/auth/me", headers=bearer(second["access_token"])).json()
    assert me["email"] == EMAIL
    assert me["groups"] == ["root", "operator"]
    assert me["scopes"] == ["reports:read"]
    clock.advance(60)
    third = refresh(client, second["refresh_token"])
    assert third.status_code == 200


def test_refresh_accepts_the_oauth2_form(client: TestClient) -> None:
    first = login(client)
    response = client.post(
        "/v1/auth/refresh",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert response.status_code == 200, response.text


def test_reuse_after_the_grace_window_revokes_the_family(client: TestClient, clock: Clock) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    clock.advance(11)  # past the 10 s grace window
    assert_401(refresh(client, first["refresh_token"]), token_sent=True)
    # the whole family is gone, including the token that replaced the reused one
    assert_401(refresh(client, second["refresh_token"]), token_sent=True)
    # other sessions are untouched
    other = login(client)
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_duplicate_refresh_inside_the_grace_window_gets_the_same_pair(
    client: TestClient, clock: Clock
) -> None:
    first = login(client)
    clock.advance(30)
    tab_a = refresh(client, first["refresh_token"])
    clock.advance(3)
    tab_b = refresh(client, first["refresh_token"])
    assert tab_a.status_code == tab_b.status_code == 200
    a, b = tab_a.json(), tab_b.json()
    assert a["access_token"] == b["access_token"]
    assert a["refresh_token"] == b["refresh_token"]
    assert b["expires_in"] == 897
    # and the family lives on
    assert refresh(client, a["refresh_token"]).status_code == 200


def test_grace_window_ends_at_ten_seconds(client: TestClient, clock: Clock) -> None:
    first = login(client)
    refresh(client, first["refresh_token"])
    clock.advance(9.999)
    assert refresh(client, first["refresh_token"]).status_code == 200
    clock.advance(0.001)  # 10 s after the rotation: the window [0, 10) has ended
    assert refresh(client, first["refresh_token"]).status_code == 401


def test_duplicate_after_the_successor_was_used_is_reuse(client: TestClient, clock: Clock) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    third = refresh(client, second["refresh_token"]).json()
    assert_401(refresh(client, first["refresh_token"]), token_sent=True)
    assert_401(refresh(client, third["refresh_token"]), token_sent=True)


def test_refresh_token_expires(client: TestClient, clock: Clock) -> None:
    first = login(client)
    clock.advance(7 * 24 * 3600)
    assert_401(refresh(client, first["refresh_token"]), token_sent=True)


@pytest.mark.parametrize("token", ["", "garbage", "twr_", "twr_" + "A" * 43, "x" * 1024])
def test_unknown_refresh_tokens_are_401(client: TestClient, token: str) -> None:
    response = refresh(client, token)
    assert response.status_code in (401, 422)
    if response.status_code == 401:
        assert_401(response, token_sent=True)


def test_logout_revokes_the_family(client: TestClient, clock: Clock) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    response = client.post("/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 204
    assert response.content == b""
    assert_401(refresh(client, second["refresh_token"]), token_sent=True)
    # an access token already issued lives out its (short) life; the session cannot be renewed
    assert client.get("/sync", headers=bearer(second["access_token"])).status_code == 200
    clock.advance(900)
    assert_401(client.get("/sync", headers=bearer(second["access_token"])), token_sent=True)


@pytest.mark.parametrize("token", ["garbage", "twr_" + "B" * 43])
def test_logout_of_an_unknown_token_is_quietly_204(client: TestClient, token: str) -> None:
    assert client.post("/v1/auth/logout", json={"refresh_token": token}).status_code == 204


def test_logout_then_login_again(client: TestClient) -> None:
    first = login(client)
    client.post("/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
    again = login(client)
    assert refresh(client, again["refresh_token"]).status_code == 200


# --- OpenAPI --------------------------------------------------------------------------------------


def test_openapi_declares_the_security_scheme(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["tokenward"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/v1/auth/login"
    paths = doc["paths"]
    assert paths["/sync"]["get"]["security"] == [{"tokenward": []}]
    assert paths["/reports"]["get"]["security"] == [{"tokenward": ["reports:read"]}]
    assert paths["/operator"]["get"]["security"] == [{"tokenward": []}]
    assert paths["/v1/auth/me"]["get"]["security"] == [{"tokenward": []}]
    assert "security" not in paths["/public"]["get"]
    assert "security" not in paths["/v1/auth/login"]["post"]
    content = paths["/v1/auth/login"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    assert set(content["application/json"]["schema"]["required"]) == {"email", "password"}
    assert set(content["application/x-www-form-urlencoded"]["schema"]["required"]) == {
        "username",
        "password",
    }
    assert {"/v1/auth/refresh", "/v1/auth/logout"} <= set(paths)


def test_swagger_ui_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


# --- wiring -------------------------------------------------------------------------------------


def test_works_without_running_the_lifespan(clock: Clock) -> None:
    """TestClient without ``with`` skips the lifespan: ``auth.install(app)`` attaches the Auth
    (nothing is found through FastAPI internals), and the store opens on first use."""
    app, auth = make_app(clock=clock)
    auth.install(app)
    client = TestClient(app)
    tokens = login(client)
    assert client.get("/async", headers=bearer(tokens["access_token"])).status_code == 200
    assert refresh(client, tokens["refresh_token"]).status_code == 200
    asyncio.run(auth.store.close())


def test_router_mounted_under_another_router(clock: Clock) -> None:
    from fastapi import APIRouter

    auth = Auth(AuthSettings(auth_secret=SecretStr(SECRET)), clock=clock)
    outer = APIRouter()
    outer.include_router(auth.router)

    app = FastAPI()
    app.include_router(outer)
    auth.install(app)

    @app.get("/protected")
    def protected(user: Annotated[CurrentUser, Depends(require_current_user)]) -> str:
        return user.sub

    client = TestClient(app)
    tokens = login(client)
    assert client.get("/protected", headers=bearer(tokens["access_token"])).status_code == 200
    asyncio.run(auth.store.close())


def test_an_auth_router_alone_does_not_attach_the_auth(clock: Clock) -> None:
    """Mounting auth.router without the lifespan or install(): the dependencies have no Auth,
    so a request with credentials is a 503 (and a log line saying what to do), never a 500."""
    app, auth = make_app(clock=clock)
    client = TestClient(app)  # no ``with``: the lifespan does not run
    assert client.get("/sync").status_code == 401
    response = client.get("/sync", headers=bearer("some.token.here"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    asyncio.run(auth.store.close())


def test_app_without_auth_answers_503_not_500() -> None:
    app = FastAPI()

    @app.get("/protected")
    def protected(user: Annotated[CurrentUser, Depends(require_current_user)]) -> str:
        return user.sub

    client = TestClient(app)
    assert client.get("/protected").status_code == 401
    response = client.get("/protected", headers=bearer("some.token.here"))
    assert response.status_code == 503


def test_prefix_for_an_existing_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEGA_AUTH_PROVIDER", "custom")
    monkeypatch.setenv("VEGA_AUTH_SECRET", SECRET)
    monkeypatch.setenv("VEGA_DEBUG_EMAIL", "vega@example.com")
    monkeypatch.setenv("VEGA_DEBUG_PASSWORD", "a-vega-password")
    monkeypatch.setenv("VEGA_DEBUG_GROUPS", '["operator"]')
    monkeypatch.setenv("VEGA_COGNITO_REGION", "us-west-1")
    monkeypatch.setenv("VEGA_COGNITO_USER_POOL_ID", "us-west-1_abc")
    monkeypatch.setenv("VEGA_COGNITO_APP_CLIENT_ID", "client")
    monkeypatch.setenv("TOKENWARD_DEBUG_EMAIL", "not-this@example.com")
    auth = Auth.from_env(prefix="VEGA_")
    assert auth.settings.cognito_region == "us-west-1"
    assert auth.settings.cognito_user_pool_id == "us-west-1_abc"
    assert auth.settings.cognito_app_client_id == "client"
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        tokens = login(client, email="vega@example.com", password="a-vega-password")
        me = client.get("/v1/auth/me", headers=bearer(tokens["access_token"])).json()
        assert me["email"] == "vega@example.com"
        assert me["groups"] == ["operator"]
        response = client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 401


def test_sqlite_file_store_keeps_sessions_across_restarts(tmp_path: Any, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    app, _ = make_app(clock=clock, store_url=url)
    with TestClient(app) as client:
        first = login(client)
    app, _ = make_app(clock=clock, store_url=url)
    with TestClient(app) as client:
        assert refresh(client, first["refresh_token"]).status_code == 200
        assert client.get("/sync", headers=bearer(first["access_token"])).status_code == 200
