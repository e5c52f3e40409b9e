"""The account service (tokenward.accounts) on the memory store, through the service graph:
sign-up, password sign-in, verification, reset, change, the admin operations, sessions that end,
refreshes that re-read the user, amr and custom claims in the access tokens, the limits under a
burst. Argon2 runs at its cheapest parameters (2 passes over 19 MiB)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tokenward._core import DebugTokens
from tokenward.accounts import MfaRequired, account_principal
from tokenward.exceptions import (
    AccountTokenError,
    ConfigurationError,
    DuplicateUserError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    RateLimitError,
    RefreshTokenError,
    SignUpClosedError,
    SignUpFieldError,
    WeakPasswordError,
)
from tokenward.services import Services, build_services
from tokenward.settings import AuthSettings
from tokenward.stores import open_store
from tokenward.stores.base import UserRecord
from tokenward.tokens import ClientInfo, TokenPair

SECRET = "accounts-test-secret-0123456789-abcdefghijklmnop"
PASSWORD = "correct horse battery staple"
CHEAP = {"password_hash_passes": 2, "password_hash_memory_kib": 19456}


class Mail:
    """on_send capture: (kind, email, token) in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def __call__(self, kind: str, email: str, token: str) -> None:
        self.sent.append((kind, email, token))

    def last(self, kind: str) -> str:
        return [t for k, _, t in self.sent if k == kind][-1]


def make_settings(**overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {"auth_secret": SECRET, "signup": "open", **CHEAP}
    values.update(overrides)
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ACCOUNTS_", **values)


async def graph(mail: Mail, claims: Any = None, gate: Any = None, **overrides: Any) -> Services:
    services = build_services(
        make_settings(**overrides),
        store=open_store("memory://"),
        on_send=mail,
        claims=claims,
        gate=gate,
    )
    await services.start()
    return services


def with_services(fn: Callable[..., Awaitable[None]]) -> Callable[[], None]:
    """A test of its own event loop over a fresh graph on the memory store and its mail."""

    def test() -> None:
        async def main() -> None:
            mail = Mail()
            services = await graph(mail)
            try:
                wants_mail = len(inspect.signature(fn).parameters) > 1
                await (fn(services, mail) if wants_mail else fn(services))
            finally:
                await services.stop()

        asyncio.run(main())

    test.__name__, test.__doc__ = fn.__name__, fn.__doc__
    return test


def with_mail(fn: Callable[[Mail], Awaitable[None]]) -> Callable[[], None]:
    def test() -> None:
        asyncio.run(fn(Mail()))

    test.__name__, test.__doc__ = fn.__name__, fn.__doc__
    return test


def claims_of(services: Services, pair: TokenPair) -> dict[str, Any]:
    assert services.tokens is not None
    return services.tokens.verify_access(pair.access_token)


@with_services
async def test_sign_up_verify_and_sign_in(services: Services, mail: Mail) -> None:
    accounts = services.require_accounts()
    result = await accounts.sign_up(" Alice@Example.COM ", PASSWORD)
    assert result.user is not None and result.tokens is None and result.verification
    assert result.user.email == "alice@example.com" and not result.user.email_verified
    assert result.user.password_hash and result.user.password_hash.startswith("$argon2id$")
    assert mail.sent[-1][:2] == ("verify-email", "alice@example.com")
    with pytest.raises(EmailNotVerifiedError):
        await accounts.sign_in("alice@example.com", PASSWORD)
    user = await accounts.verify_email(mail.last("verify-email"))
    assert user.email_verified
    with pytest.raises(AccountTokenError):  # single use
        await accounts.verify_email(mail.last("verify-email"))
    pair = await accounts.sign_in("ALICE@example.com", PASSWORD, client=ClientInfo("10.0.0.1"))
    assert isinstance(pair, TokenPair)
    claims = claims_of(services, pair)
    assert claims["sub"] == user.id and claims["email"] == "alice@example.com"
    assert claims["amr"] == ["pwd"]
    stored = await services.require_accounts().users.get_user(user.id)
    assert stored is not None and stored.last_sign_in_at is not None


@with_services
async def test_wrong_password_unknown_email_and_disabled_are_one_answer(
    services: Services,
) -> None:
    accounts = services.require_accounts()
    user = await accounts.create_user("bob@example.com", PASSWORD)
    answers = []
    for email, password in (
        ("bob@example.com", "wrong password here"),
        ("nobody@example.com", PASSWORD),
    ):
        with pytest.raises(InvalidCredentialsError) as caught:
            await accounts.sign_in(email, password)
        answers.append(str(caught.value))
    await accounts.set_disabled(user.id, True)
    with pytest.raises(InvalidCredentialsError) as caught:
        await accounts.sign_in("bob@example.com", PASSWORD)
    answers.append(str(caught.value))
    assert len(set(answers)) == 1


@with_mail
async def test_sign_up_rules(mail: Mail) -> None:
    closed = await graph(mail, signup="closed")
    with pytest.raises(SignUpClosedError):
        await closed.require_accounts().sign_up("a@example.com", PASSWORD)
    await closed.stop()
    services = await graph(mail, signup_fields="display_name", email_verification="off")
    accounts = services.require_accounts()
    for field in ("groups", "roles", "email_verified", "disabled", "nickname"):
        with pytest.raises(SignUpFieldError) as caught:
            await accounts.sign_up("a@example.com", PASSWORD, fields={field: True})
        assert caught.value.field == field
    with pytest.raises(SignUpFieldError):
        await accounts.sign_up("not an address", PASSWORD)
    with pytest.raises(WeakPasswordError):
        await accounts.sign_up("a@example.com", "password")
    result = await accounts.sign_up("a@example.com", PASSWORD, fields={"display_name": "A"})
    assert result.user is not None and result.user.attributes == {"display_name": "A"}
    assert isinstance(result.tokens, TokenPair)  # off: signed in at once, no mail
    assert mail.sent == []
    with pytest.raises(DuplicateUserError):  # not hidden when verification is not required
        await accounts.sign_up("A@example.com", PASSWORD)
    await services.stop()


@with_services
async def test_a_taken_email_is_hidden_when_verification_is_required(
    services: Services, mail: Mail
) -> None:
    accounts = services.require_accounts()
    await accounts.sign_up("carol@example.com", PASSWORD)
    sent = len(mail.sent)
    again = await accounts.sign_up("carol@example.com", PASSWORD + "!")
    assert again.user is None and again.tokens is None and again.verification
    assert len(mail.sent) == sent  # nothing sent for the taken address


@with_services
async def test_reset_password_ends_every_session(services: Services, mail: Mail) -> None:
    accounts = services.require_accounts()
    user = await accounts.create_user("dave@example.com", PASSWORD)
    pair = await accounts.sign_in("dave@example.com", PASSWORD)
    assert isinstance(pair, TokenPair) and services.tokens is not None
    assert await accounts.forgot_password("dave@example.com")
    assert not await accounts.forgot_password("nobody@example.com")
    token = mail.last("reset-password")
    with pytest.raises(WeakPasswordError):  # the policy first: the token is not spent
        await accounts.reset_password(token, "short")
    await accounts.reset_password(token, "a brand new passphrase", address="10.0.0.2")
    with pytest.raises(AccountTokenError):
        await accounts.reset_password(token, "another new passphrase")
    with pytest.raises(RefreshTokenError):
        await services.tokens.refresh(pair.refresh_token)
    with pytest.raises(InvalidCredentialsError):
        await accounts.sign_in("dave@example.com", PASSWORD)
    assert isinstance(
        await accounts.sign_in("dave@example.com", "a brand new passphrase"), TokenPair
    )
    with pytest.raises(AccountTokenError):
        await accounts.reset_password("twr_garbage", "a brand new passphrase")
    with pytest.raises(AccountTokenError):  # a verification token is no reset token
        await accounts.send_verification(user)
        await accounts.reset_password(mail.last("verify-email"), "a brand new passphrase")


@with_mail
async def test_reset_keeps_sessions_when_told(mail: Mail) -> None:
    services = await graph(mail, revoke_sessions_on_reset=False)
    accounts = services.require_accounts()
    user = await accounts.create_user("erin@example.com", PASSWORD)
    pair = await accounts.sign_in("erin@example.com", PASSWORD)
    assert isinstance(pair, TokenPair) and services.tokens is not None
    await accounts.reset_password(
        await accounts.reset_link_token(user.id), "a brand new passphrase"
    )
    await services.tokens.refresh(pair.refresh_token)
    await services.stop()


@with_services
async def test_change_password_ends_the_other_sessions(services: Services) -> None:
    accounts = services.require_accounts()
    user = await accounts.create_user("frank@example.com", PASSWORD)
    here = await accounts.sign_in("frank@example.com", PASSWORD)
    there = await accounts.sign_in("frank@example.com", PASSWORD)
    assert isinstance(here, TokenPair) and isinstance(there, TokenPair)
    assert services.tokens is not None
    sid = claims_of(services, here)["sid"]
    with pytest.raises(InvalidCredentialsError):
        await accounts.change_password(user.id, "not the password", "a brand new passphrase")
    await accounts.change_password(user.id, PASSWORD, "a brand new passphrase", keep_session=sid)
    await services.tokens.refresh(here.refresh_token)
    with pytest.raises(RefreshTokenError):
        await services.tokens.refresh(there.refresh_token)


@with_services
async def test_refresh_rereads_the_user(services: Services) -> None:
    accounts = services.require_accounts()
    assert services.tokens is not None
    user = await accounts.create_user("gina@example.com", PASSWORD, groups=["staff"])
    pair = await accounts.sign_in("gina@example.com", PASSWORD)
    assert isinstance(pair, TokenPair)
    assert claims_of(services, pair)["cognito:groups"] == ["staff"]
    await accounts.set_groups(user.id, ["staff", "admin"], roles=["editor"])
    pair = await services.tokens.refresh(pair.refresh_token)
    claims = claims_of(services, pair)
    assert claims["cognito:groups"] == ["staff", "admin"] and claims["roles"] == ["editor"]
    assert claims["amr"] == ["pwd"]  # kept with the session
    other = await accounts.sign_in("gina@example.com", PASSWORD)
    assert isinstance(other, TokenPair)
    await accounts.set_disabled(user.id, True)  # ends every session
    for spent in (pair, other):
        with pytest.raises(RefreshTokenError):
            await services.tokens.refresh(spent.refresh_token)
    await accounts.set_disabled(user.id, False)
    pair = await accounts.sign_in("gina@example.com", PASSWORD)
    assert isinstance(pair, TokenPair)
    # disabled behind the service's back (the store only): the refresh re-reads and refuses
    await accounts.users.update_user(user.id, now=services.clock(), disabled=True)
    with pytest.raises(RefreshTokenError):
        await services.tokens.refresh(pair.refresh_token)


@with_services
async def test_sign_in_user_carries_amr_and_refuses_the_disabled(services: Services) -> None:
    accounts = services.require_accounts()
    user = await accounts.create_user("hal@example.com")
    pair = await services.sign_in_user(user, amr=("pwd", "otp"))
    assert claims_of(services, pair)["amr"] == ["pwd", "otp"]
    assert services.tokens is not None
    pair = await services.tokens.refresh(pair.refresh_token)
    assert claims_of(services, pair)["amr"] == ["pwd", "otp"]
    disabled = await accounts.set_disabled(user.id, True)
    assert disabled is not None
    with pytest.raises(InvalidCredentialsError):
        await services.sign_in_user(disabled)
    with pytest.raises(ConfigurationError):
        account_principal(user, "pwd")


@with_mail
async def test_custom_claims(mail: Mail) -> None:
    def sync_claims(user: UserRecord) -> dict[str, Any]:
        return {"tenant": user.attributes.get("tenant", "none"), "plan": "pro"}

    services = await graph(mail, claims=sync_claims)
    accounts = services.require_accounts()
    await accounts.create_user("ivy@example.com", PASSWORD, attributes={"tenant": "t1"})
    pair = await accounts.sign_in("ivy@example.com", PASSWORD)
    assert isinstance(pair, TokenPair)
    claims = claims_of(services, pair)
    assert (claims["tenant"], claims["plan"]) == ("t1", "pro")
    assert services.tokens is not None
    refreshed = claims_of(services, await services.tokens.refresh(pair.refresh_token))
    assert refreshed["tenant"] == "t1"
    await services.stop()

    for name in ("sub", "iss", "exp", "amr", "roles", "scope", "sid", "cognito:groups", "acl"):
        assert name in {"amr", "roles", "acl"} or DebugTokens.is_reserved_claim(name)

        async def bad(user: UserRecord, name: str = name) -> dict[str, Any]:
            return {name: "forged"}

        services = await graph(Mail(), claims=bad)
        accounts = services.require_accounts()
        await accounts.create_user("jo@example.com", PASSWORD)
        with pytest.raises(ConfigurationError):
            await accounts.sign_in("jo@example.com", PASSWORD)
        await services.stop()


class Gate:
    def __init__(self) -> None:
        self.begun: list[str] = []

    async def required(self, user: UserRecord) -> bool:
        return user.email.startswith("mfa")

    async def begin(self, user: UserRecord, *, client: Any = None, scope: Any = None) -> str:
        self.begun.append(user.id)
        return "mfa-token-for-" + user.id


@with_mail
async def test_the_second_factor_gate(mail: Mail) -> None:
    gate = Gate()
    services = await graph(mail, gate=gate)
    accounts = services.require_accounts()
    user = await accounts.create_user("mfa@example.com", PASSWORD)
    await accounts.create_user("plain@example.com", PASSWORD)
    result = await accounts.sign_in("mfa@example.com", PASSWORD)
    assert result == MfaRequired("mfa-token-for-" + user.id)
    assert isinstance(await accounts.sign_in("plain@example.com", PASSWORD), TokenPair)
    assert isinstance(await services.login("mfa@example.com", PASSWORD), MfaRequired)
    await services.stop()


@with_services
async def test_the_debug_user_still_signs_in(services: Services) -> None:
    pair = await services.login("debug@example.com", "vega-debug-password")
    assert isinstance(pair, TokenPair)
    assert "amr" not in claims_of(services, pair)
    assert services.tokens is not None
    await services.tokens.refresh(pair.refresh_token)
    assert await services.login("debug@example.com", "wrong") is None


@with_mail
async def test_rehash_on_sign_in_when_the_parameters_change(mail: Mail) -> None:
    store = open_store("memory://")
    first = build_services(make_settings(), store=store, on_send=mail)
    await first.start()
    user = await first.require_accounts().create_user("kim@example.com", PASSWORD)
    old = user.password_hash
    assert old is not None and "t=2" in old
    second = build_services(make_settings(password_hash_passes=3), store=store, on_send=mail)
    assert isinstance(
        await second.require_accounts().sign_in("kim@example.com", PASSWORD), TokenPair
    )
    found = await second.require_accounts().users.get_user(user.id)
    assert found is not None and found.password_hash != old and "t=3" in str(found.password_hash)
    await first.stop()


@with_services
async def test_admin_operations(services: Services) -> None:
    accounts = services.require_accounts()
    user = await accounts.create_user("lee@example.com", groups=["ops"], roles=["admin"])
    assert user.email_verified and user.password_hash is None
    assert (await accounts.find("LEE@example.com")) == user
    assert (await accounts.find(user.id)) == user
    with pytest.raises(InvalidCredentialsError):  # no password: cannot sign in with one
        await accounts.sign_in("lee@example.com", "")
    token = await accounts.reset_link_token(user.id)
    await accounts.reset_password(token, PASSWORD)
    assert isinstance(await accounts.sign_in("lee@example.com", PASSWORD), TokenPair)
    with pytest.raises(DuplicateUserError):
        await accounts.create_user("Lee@Example.com")
    assert await accounts.set_groups("no-such-user", ["x"]) is None
    with pytest.raises(ValueError):
        await accounts.reset_link_token("no-such-user")


@with_mail
async def test_expired_tokens_are_refused(mail: Mail) -> None:
    now = [1_800_000_000.0]
    services = build_services(
        make_settings(), store=open_store("memory://"), on_send=mail, clock=lambda: now[0]
    )
    await services.start()
    accounts = services.require_accounts()
    await accounts.sign_up("max@example.com", PASSWORD)
    now[0] += 24 * 3600
    with pytest.raises(AccountTokenError):
        await accounts.verify_email(mail.last("verify-email"))
    await accounts.create_user("ned@example.com", PASSWORD)
    await accounts.forgot_password("ned@example.com")
    now[0] += 3600
    with pytest.raises(AccountTokenError):
        await accounts.reset_password(mail.last("reset-password"), "a brand new passphrase")
    await services.stop()


@with_services
async def test_limits_hold_under_a_burst(services: Services, mail: Mail) -> None:
    accounts = services.require_accounts()

    async def outcomes(calls: list[Any]) -> list[str]:
        done = await asyncio.gather(*calls, return_exceptions=True)
        return [type(d).__name__ for d in done]

    # sign-up: 3 per e-mail per hour
    got = await outcomes([accounts.sign_up("oz@example.com", PASSWORD) for _ in range(8)])
    assert got.count("RateLimitError") == 5
    # forgot-password: 3 per e-mail per hour, the rest refused (the route still answers 200)
    await accounts.create_user("pat@example.com", PASSWORD)
    before = len(mail.sent)
    got = await outcomes([accounts.forgot_password("pat@example.com") for _ in range(8)])
    assert got.count("RateLimitError") == 5 and len(mail.sent) - before == 3
    # resend-verification: 3 per user per hour
    result = await accounts.sign_up("quin@example.com", PASSWORD)
    assert result.user is not None
    got = await outcomes([accounts.resend_verification(result.user.id) for _ in range(8)])
    assert got.count("RateLimitError") == 5
    # reset-password: 5 per address per 15 minutes
    got = await outcomes(
        [accounts.reset_password("twr_x", PASSWORD, address="10.9.9.9") for _ in range(9)]
    )
    assert got.count("RateLimitError") == 4 and got.count("AccountTokenError") == 5
    # sign-in: the login lock-out, 5 failures per e-mail
    got = await outcomes([accounts.sign_in("pat@example.com", "wrong one!") for _ in range(9)])
    assert got.count("RateLimitError") == 4 and got.count("InvalidCredentialsError") == 5
    with pytest.raises(RateLimitError):
        await accounts.sign_in("pat@example.com", PASSWORD)


@with_services
async def test_single_use_under_a_burst(services: Services, mail: Mail) -> None:
    accounts = services.require_accounts()
    await accounts.sign_up("ray@example.com", PASSWORD)
    token = mail.last("verify-email")
    done = await asyncio.gather(
        *(accounts.verify_email(token) for _ in range(10)), return_exceptions=True
    )
    assert sum(isinstance(d, UserRecord) for d in done) == 1
    user = await accounts.create_user("sam@example.com", PASSWORD)
    token = await accounts.reset_link_token(user.id)
    done = await asyncio.gather(
        *(accounts.reset_password(token, f"new passphrase {i}") for i in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(d, UserRecord) for d in done) == 1
    assert sum(isinstance(d, AccountTokenError) for d in done) == 4


def test_no_mailer_refuses_open_sign_up_outside_development() -> None:
    settings = make_settings(
        environment="production",
        allow_custom_auth_in_production=True,
        store_url="sqlite:///:memory:",
    )
    with pytest.raises(ConfigurationError, match="on_send"):
        build_services(settings)
    build_services(settings.model_copy(update={"email_verification": "off"}))
