"""The account routes (tokenward.fastapi.accounts_router) and the login route's accounts, through
TestClient: answers, error codes, no-store, cookie sessions, and the enumeration checks: what a
caller gets for a known and an unknown e-mail (sign-up, login, forgot-password) is the same
status, body and headers. Mail is captured through on_send."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from tests._fastapi_support import TestClient

from smtp_server import smtp_server
from tokenward.fastapi import Auth, AuthSettings
from tokenward.stores import open_store
from tokenward.tokens import TokenPair

SECRET = "accounts-route-secret-0123456789-abcdefghijklmn"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"
CHEAP = {"password_hash_passes": 2, "password_hash_memory_kib": 19456}
VARYING = {"date", "content-length"}


class Mail:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail

    def __call__(self, kind: str, email: str, token: str) -> None:  # a sync on_send
        if self.fail:
            raise OSError("the mail server is down")
        self.sent.append((kind, email, token))

    def last(self, kind: str) -> str:
        return [t for k, _, t in self.sent if k == kind][-1]


def make(mail: Mail, **overrides: Any) -> tuple[FastAPI, Auth]:
    values: dict[str, Any] = {"auth_secret": SECRET, "signup": "open", **CHEAP}
    values.update(overrides)
    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ACCOUNT_ROUTES_", **values)
    auth = Auth(settings, store=open_store("memory://"), on_send=mail)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    return app, auth


@pytest.fixture
def mail() -> Mail:
    return Mail()


@pytest.fixture
def client(mail: Mail) -> Iterator[TestClient]:
    app, _ = make(mail)
    with TestClient(app) as c:
        yield c


def headers_of(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in VARYING}


def signup(client: TestClient, email: str, password: str = PASSWORD, **more: Any) -> Any:
    return client.post("/v1/auth/signup", json={"email": email, "password": password, **more})


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def verified_account(client: TestClient, mail: Mail, email: str) -> dict[str, Any]:
    assert signup(client, email).status_code == 202
    assert client.post("/v1/auth/verify-email", json={"token": mail.last("verify-email")})
    answer = login(client, email)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_sign_up_verify_sign_in(client: TestClient, mail: Mail) -> None:
    answer = signup(client, "Alice@Example.com")
    assert answer.status_code == 202
    assert answer.json()["status"] == "verification_sent" and "access_token" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert mail.sent[-1][:2] == ("verify-email", "alice@example.com")
    refused = login(client, "alice@example.com")
    assert refused.status_code == 401 and refused.json()["error"] == "email_not_verified"
    assert refused.headers["cache-control"] == "no-store"
    token = mail.last("verify-email")
    done = client.post("/v1/auth/verify-email", json={"token": token})
    assert done.status_code == 204 and done.headers["cache-control"] == "no-store"
    again = client.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["error"] == "invalid_account_token"
    answer = login(client, "ALICE@example.com")
    assert answer.status_code == 200
    me = client.get("/v1/auth/me", headers=bearer(answer.json()["access_token"]))
    assert me.json()["email"] == "alice@example.com" and me.json()["claims"]["amr"] == ["pwd"]


@pytest.mark.parametrize(
    "address",
    [
        '"alice"@example.org',  # a quoted local part
        "alice..b@example.org",
        "alice@exa_mple.org",  # a domain that is no host name
        "alice@-example.org",
        "a" * 65 + "@example.org",  # a local part beyond 64 bytes
        "alice@[127.0.0.1]",  # an address literal
    ],
)
def test_sign_up_refuses_an_address_the_smtp_sender_could_never_send_to(address: str) -> None:
    """With SMTP_URL (a real aiosmtpd server on loopback), an address the sender would refuse
    is a 422 at sign-up (nothing stored, nothing sent) rather than a failure later, in the
    background send; a good address still gets its mail."""
    with smtp_server() as server:
        settings = AuthSettings.from_env(
            prefix="TOKENWARD_TEST_ACCOUNT_ROUTES_",
            auth_secret=SECRET,
            signup="open",
            smtp_url=server.url(),
            smtp_from="noreply@example.com",
            app_url="http://127.0.0.1:8000",
            **CHEAP,
        )
        auth = Auth(settings, store=open_store("memory://"))
        app = FastAPI(lifespan=auth.lifespan)
        app.include_router(auth.router)
        with TestClient(app) as client:
            refused = signup(client, address)
            assert refused.status_code == 422, refused.text
            assert refused.headers["cache-control"] == "no-store"
            assert address not in refused.text
            assert auth.api is not None
            assert client.portal.call(auth.api.users.get_user_by_email, address) is None
            assert signup(client, "carol@example.org").status_code == 202
            server.inbox.wait_for("carol@example.org")
            assert len(server.inbox) == 1


def test_sign_up_does_not_tell_a_taken_email(client: TestClient, mail: Mail) -> None:
    new = signup(client, "bob@example.com")
    sent = len(mail.sent)
    taken = signup(client, "BOB@example.com", PASSWORD + "!")
    assert (new.status_code, new.json(), headers_of(new)) == (
        taken.status_code,
        taken.json(),
        headers_of(taken),
    )
    assert len(mail.sent) == sent  # nothing mailed for the taken address


def test_login_does_not_tell_an_unknown_email(client: TestClient, mail: Mail) -> None:
    verified_account(client, mail, "carol@example.com")
    wrong = login(client, "carol@example.com", "not her password")
    unknown = login(client, "nobody@example.com", "not her password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert headers_of(wrong) == headers_of(unknown)


def test_forgot_password_does_not_tell_an_unknown_email(client: TestClient, mail: Mail) -> None:
    verified_account(client, mail, "dave@example.com")
    sent = len(mail.sent)
    known = client.post("/v1/auth/forgot-password", json={"email": "dave@example.com"})
    unknown = client.post("/v1/auth/forgot-password", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert headers_of(known) == headers_of(unknown)
    assert [k for k, _, _ in mail.sent[sent:]] == ["reset-password"]


def test_a_mail_failure_does_not_change_the_forgot_password_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mail = Mail()
    app, _ = make(mail, email_verification="off")
    with TestClient(app) as c:
        assert signup(c, "erin@example.com").status_code == 201
        mail.fail = True
        with caplog.at_level(logging.ERROR, logger="tokenward.accounts"):
            answer = c.post("/v1/auth/forgot-password", json={"email": "erin@example.com"})
        assert answer.status_code == 200
        assert "the password-reset mail failed" in caplog.text


def test_reset_password_ends_every_session(client: TestClient, mail: Mail) -> None:
    first = verified_account(client, mail, "frank@example.com")
    client.post("/v1/auth/forgot-password", json={"email": "frank@example.com"})
    token = mail.last("reset-password")
    weak = client.post("/v1/auth/reset-password", json={"token": token, "password": "password"})
    assert weak.status_code == 422 and weak.json()["error"] == "weak_password"
    assert "common" in weak.json()["rules"]
    done = client.post("/v1/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 204 and done.headers["cache-control"] == "no-store"
    refresh = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refresh.status_code == 401
    assert login(client, "frank@example.com").status_code == 401
    assert login(client, "frank@example.com", NEW_PASSWORD).status_code == 200
    used = client.post("/v1/auth/reset-password", json={"token": token, "password": NEW_PASSWORD})
    assert used.status_code == 400 and used.json()["error"] == "invalid_account_token"


def test_change_password_ends_the_other_sessions(client: TestClient, mail: Mail) -> None:
    here = verified_account(client, mail, "gina@example.com")
    there = login(client, "gina@example.com").json()
    wrong = client.post(
        "/v1/auth/change-password",
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
        headers=bearer(here["access_token"]),
    )
    assert wrong.status_code == 401
    done = client.post(
        "/v1/auth/change-password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(here["access_token"]),
    )
    assert done.status_code == 204
    assert client.post("/v1/auth/refresh", json={"refresh_token": here["refresh_token"]}).is_success
    gone = client.post("/v1/auth/refresh", json={"refresh_token": there["refresh_token"]})
    assert gone.status_code == 401
    unsigned = client.post(
        "/v1/auth/change-password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert unsigned.status_code == 401


def test_sign_up_settings(mail: Mail) -> None:
    app, _ = make(mail, signup="closed")
    with TestClient(app) as c:
        closed = signup(c, "a@example.com")
        assert closed.status_code == 403 and closed.json()["error"] == "signup_closed"
        assert closed.headers["cache-control"] == "no-store"
    app, auth = make(mail, email_verification="optional", signup_fields="display_name")
    with TestClient(app) as c:
        for field in ("groups", "roles", "email_verified", "disabled", "nickname"):
            refused = signup(c, "a@example.com", **{field: ["root"]})
            assert refused.status_code == 422, field
            assert refused.json()["error"] == "signup_field_refused"
        created = signup(c, "a@example.com", display_name="A")
        assert created.status_code == 201 and created.json()["token_type"] == "bearer"
        assert mail.sent[-1][0] == "verify-email"
        taken = signup(c, "a@example.com")
        assert taken.status_code == 409 and taken.json()["error"] == "email_taken"
        token = created.json()["access_token"]
        resent = c.post("/v1/auth/resend-verification", headers=bearer(token))
        assert resent.status_code == 202 and mail.sent[-1][0] == "verify-email"
        user = asyncio.run(auth.services.store.get_user_by_email("a@example.com"))  # type: ignore[attr-defined]
        assert user.attributes == {"display_name": "A"} and user.groups == ()


def test_route_limits_answer_429(client: TestClient, mail: Mail) -> None:
    answers = [signup(client, "hal@example.com").status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]
    limited = signup(client, "hal@example.com")
    assert int(limited.headers["retry-after"]) > 0
    forgot = [
        client.post("/v1/auth/forgot-password", json={"email": "hal@example.com"}).status_code
        for _ in range(5)
    ]
    assert forgot == [200] * 5
    resets = [
        client.post(
            "/v1/auth/reset-password", json={"token": "twr_x", "password": NEW_PASSWORD}
        ).status_code
        for _ in range(6)
    ]
    assert resets == [400] * 5 + [429]


def test_cookie_sessions_sign_accounts_in(mail: Mail) -> None:
    app, _ = make(
        mail,
        email_verification="off",
        cookie_sessions=True,
        allowed_origins="https://testserver",
    )
    with TestClient(app, base_url="https://testserver") as c:
        origin = {"Origin": "https://testserver"}
        created = c.post(
            "/v1/auth/signup",
            json={"email": "ivy@example.com", "password": PASSWORD},
            headers=origin,
        )
        assert created.status_code == 201
        assert {"tw_access", "tw_refresh"} <= set(created.cookies)
        foreign = c.post(
            "/v1/auth/signup",
            json={"email": "jo@example.com", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        c.cookies.clear()
        answer = c.post(
            "/v1/auth/login",
            json={"email": "ivy@example.com", "password": PASSWORD},
            headers=origin,
        )
        assert answer.status_code == 200 and "tw_access" in answer.cookies
        me = c.get("/v1/auth/me")
        assert me.status_code == 200 and me.json()["email"] == "ivy@example.com"


def test_the_debug_user_and_the_server_side_api(client: TestClient, mail: Mail) -> None:
    assert login(client, "debug@example.com", "vega-debug-password").status_code == 200
    app, auth = make(mail)
    assert auth.api is not None
    with TestClient(app):

        async def scenario() -> None:
            assert auth.api is not None
            user = await auth.api.create_user("kim@example.com", PASSWORD, groups=["ops"])
            pair = await auth.api.sign_in("kim@example.com", PASSWORD)
            await auth.api.change_password(user.id, PASSWORD, NEW_PASSWORD)
            assert pair is not None
            signed_in = await auth.login("kim@example.com", NEW_PASSWORD)
            assert isinstance(signed_in, TokenPair)  # an account, as the route signs it in
            who = auth.services.require_custom()[1].verify_access(signed_in.access_token)
            assert who["sub"] == user.id and who["amr"] == ["pwd"]
            assert await auth.login("kim@example.com", PASSWORD) is None  # the old one

        asyncio.run(scenario())


def test_under_cognito_there_are_no_account_routes() -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ACCOUNT_ROUTES_",
        auth_provider="cognito",
        cognito_region="eu-west-1",
        cognito_user_pool_id="eu-west-1_abc",
        cognito_app_client_id="client",
    )
    auth = Auth(settings)
    paths = {getattr(r, "path", "") for r in auth.router.routes}
    assert "/v1/auth/signup" not in paths and auth.api is None
