"""Passkeys (tokenward.passkeys, fastapi/passkeys_router.py): real attestations and assertions
from a software authenticator (tests/_passkey_support.py), checked by py_webauthn's own
verifier; no mock of it. The service on the memory store, then the routes through TestClient,
then malformed JSON from hypothesis (never a 500)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fastapi_support import SECRET, Clock, TestClient, bearer, login, make_app
from _passkey_support import SoftAuthenticator, TokenSignIn
from tokenward._core import DebugTokens
from tokenward.exceptions import (
    NotAuthenticatedError,
    PasskeyError,
    PasskeyInputError,
    RateLimitError,
)
from tokenward.passkeys import PasskeyService
from tokenward.principal import Principal
from tokenward.services import token_service
from tokenward.settings import AuthSettings
from tokenward.stores import UserRecord
from tokenward.stores.memory import MemoryStore

ORIGIN = "http://localhost:8000"
NOW = 1_800_000_000.0


def principal(subject: str = "u1", **claims: Any) -> Principal:
    return Principal(
        subject=subject,
        credential_type="access_token",
        email=f"{subject}@example.com",
        provider="custom",
        session_id="sess-1",
        claims=claims,
    )


class World:
    """A PasskeyService on a memory store with two accounts, and its token service."""

    def __init__(self, *, signin: bool = True, max_per_address: int = 1000) -> None:
        self.clock = Clock(NOW)
        self.store = MemoryStore()
        settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET)
        self.tokens, _ = token_service(settings, self.store, SECRET, self.clock)
        self.sign_in = TokenSignIn(self.tokens)
        self.service = PasskeyService(
            self.store,
            self.store,
            rp_id="localhost",
            rp_name="tokenward tests",
            origins=[ORIGIN],
            tokens=self.tokens,
            counters=self.store,
            sign_in=self.sign_in,
            signin_enabled=signin,
            max_per_address=max_per_address,
            lifecycle=self.tokens.lifecycle,
            clock=self.clock,
        )

    async def accounts(self) -> None:
        for user_id in ("u1", "u2"):
            await self.store.create_user(
                UserRecord(user_id, f"{user_id}@example.com", None, NOW, NOW)
            )

    async def register(self, who: Principal, **kw: Any) -> SoftAuthenticator:
        device = SoftAuthenticator(ORIGIN, **kw)
        options = await self.service.registration_options(who)
        await self.service.register(who, device.create(options), name="laptop")
        return device


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_registration_options_ask_for_user_verification_and_exclude_known_passkeys() -> None:
    async def scenario() -> None:
        world = World()
        who = principal()
        options = await world.service.registration_options(who)
        assert options["rp"] == {"name": "tokenward tests", "id": "localhost"}
        assert options["user"]["name"] == "u1@example.com"
        assert options["authenticatorSelection"]["userVerification"] == "required"
        assert options["authenticatorSelection"]["residentKey"] == "preferred"
        assert options["excludeCredentials"] == [] and options["attestation"] == "none"
        device = SoftAuthenticator(ORIGIN)
        view = await world.service.register(who, device.create(options), name="  YubiKey ")
        assert (view.id, view.name, view.synced) == (device.id, "YubiKey", False)
        again = await world.service.registration_options(who)
        assert [c["id"] for c in again["excludeCredentials"]] == [device.id]
        synced = SoftAuthenticator(ORIGIN, counter=None, synced=True)
        world.clock.advance(1)  # listed oldest first
        second = await world.service.register(who, synced.create(again))
        assert (second.name, second.synced) == ("Passkey 2", True)
        assert [v.id for v in await world.service.list("u1")] == [device.id, synced.id]
        assert await world.service.list("u2") == []

    run(scenario())


@pytest.mark.parametrize(
    "tamper",
    ["replay", "other user", "origin", "rp id", "no uv", "garbage challenge", "expired"],
)
def test_a_registration_that_does_not_check_out_is_refused(tamper: str) -> None:
    async def scenario() -> None:
        world = World()
        who, device = principal(), SoftAuthenticator(ORIGIN)
        options = await world.service.registration_options(who)
        kwargs = {
            "origin": {"origin": "https://evil.example"},
            "rp id": {"rp_id": "evil.example"},
            "no uv": {"uv": False},
        }.get(tamper, {})
        credential = device.create(options, **kwargs)
        if tamper == "replay":
            await world.service.register(who, credential)
        if tamper == "garbage challenge":
            credential["response"]["clientDataJSON"] = "bm90IGpzb24"
        if tamper == "expired":
            world.clock.advance(301)
        target = principal("u2") if tamper == "other user" else who
        with pytest.raises(PasskeyError):
            await world.service.register(target, credential)
        assert len(await world.service.list("u1")) == (1 if tamper == "replay" else 0)

    run(scenario())


def test_step_up_gives_a_fresh_token_with_webauthn_in_amr() -> None:
    async def scenario() -> None:
        world = World(signin=False)
        who = principal(amr=["pwd"])
        device = await world.register(who)
        options = await world.service.authentication_options(who)
        assert options["userVerification"] == "required"
        assert [c["id"] for c in options["allowCredentials"]] == [device.id]
        token = await world.service.step_up(who, device.get(options))
        claims = world.tokens.verify_access(token)
        assert claims["sub"] == "u1" and claims["sid"] == "sess-1"
        assert claims["amr"] == ["pwd", "webauthn"] and claims["mfa_time"] == int(NOW)
        stored = (await world.store.list_passkeys("u1"))[0]
        assert (stored.sign_count, stored.last_used_at) == (1, NOW)
        # another user's session cannot use u1's challenge or passkey
        options = await world.service.authentication_options(who)
        with pytest.raises(PasskeyError):
            await world.service.step_up(principal("u2"), device.get(options))
        with pytest.raises(PasskeyInputError):  # u2 has no passkey to step up with
            await world.service.authentication_options(principal("u2"))
        # PASSKEY_SIGNIN off: nobody signs in with a passkey alone
        with pytest.raises(NotAuthenticatedError):
            await world.service.authentication_options(None)
        with pytest.raises(NotAuthenticatedError):
            await world.service.sign_in(device.get(options))

    run(scenario())


def test_sign_in_with_a_discoverable_passkey_goes_through_sign_in_user() -> None:
    async def scenario() -> None:
        world = World()
        await world.accounts()
        device = await world.register(principal("u2"))
        options = await world.service.authentication_options(None)
        assert options["allowCredentials"] == []
        pair = await world.service.sign_in(device.get(options))
        assert world.sign_in.calls == [("u2", ("webauthn",))]
        claims = world.tokens.verify_access(pair.access_token)
        assert claims["sub"] == "u2" and claims["amr"] == ["webauthn"]
        assert DebugTokens.is_refresh_token(pair.refresh_token)
        # the same assertion again: its challenge is spent
        with pytest.raises(PasskeyError):
            await world.service.sign_in(device.get(options, counter=device.counter))
        # a disabled account does not sign in
        await world.store.update_user("u2", now=NOW, disabled=True)
        with pytest.raises(PasskeyError):
            await world.service.sign_in(
                device.get(await world.service.authentication_options(None))
            )

    run(scenario())


@pytest.mark.parametrize("tamper", ["origin", "rp id", "no uv", "signature", "user handle"])
def test_an_assertion_that_does_not_check_out_is_refused(tamper: str) -> None:
    async def scenario() -> None:
        world = World()
        await world.accounts()
        device = await world.register(principal())
        options = await world.service.authentication_options(None)
        kwargs = {
            "origin": {"origin": "https://evil.example"},
            "rp id": {"rp_id": "evil.example"},
            "no uv": {"uv": False},
        }.get(tamper, {})
        credential = device.get(options, **kwargs)
        if tamper == "signature":
            other = device.get(await world.service.authentication_options(None))
            credential["response"]["signature"] = other["response"]["signature"]
        if tamper == "user handle":
            credential["response"]["userHandle"] = "dTI"  # "u2"
        with pytest.raises(PasskeyError):
            await world.service.sign_in(credential)
        assert world.sign_in.calls == []

    run(scenario())


def test_the_counter_must_move_forward_unless_the_authenticator_has_none() -> None:
    async def scenario() -> None:
        world = World()
        await world.accounts()
        counted = await world.register(principal(), counter=10)
        await world.service.sign_in(counted.get(await world.service.authentication_options(None)))
        # a clone presents a counter that is not above the stored one
        with pytest.raises(PasskeyError):
            await world.service.sign_in(
                counted.get(await world.service.authentication_options(None), counter=11)
            )
        with pytest.raises(PasskeyError):
            await world.service.sign_in(
                counted.get(await world.service.authentication_options(None), counter=3)
            )
        synced = await world.register(principal("u2"), counter=None, synced=True)
        for _ in range(3):  # 0 after 0: no counter, accepted every time
            await world.service.sign_in(
                synced.get(await world.service.authentication_options(None))
            )
        assert (await world.store.get_passkey(synced.id)).backed_up  # type: ignore[union-attr]

    run(scenario())


def test_a_revoked_passkey_signs_no_one_in_and_management_is_owner_scoped() -> None:
    async def scenario() -> None:
        world = World()
        await world.accounts()
        device = await world.register(principal())
        assert not await world.service.rename("u2", device.id, "mine now")
        assert await world.service.rename("u1", device.id, " work laptop ")
        assert (await world.service.list("u1"))[0].name == "work laptop"
        with pytest.raises(PasskeyInputError):
            await world.service.rename("u1", device.id, "   ")
        assert not await world.service.revoke("u2", device.id)
        assert await world.service.revoke("u1", device.id)
        with pytest.raises(PasskeyError):
            await world.service.sign_in(
                device.get(await world.service.authentication_options(None))
            )

    run(scenario())


def test_registering_or_revoking_a_passkey_ends_the_other_sessions() -> None:
    async def scenario() -> None:
        world = World()
        await world.accounts()

        async def session() -> str:
            pair = await world.sign_in(await world.store.get_user("u1"))  # type: ignore[arg-type]
            sid: str = world.tokens.verify_access(pair.access_token)["sid"]
            return sid

        async def live() -> set[str]:
            return {s.id for s in await world.store.list_sessions("u1", now=world.clock())}

        mine, other = await session(), await session()
        device = await world.register(_with_session(mine))
        assert await live() == {mine}
        other = await session()
        assert not await world.service.revoke("u1", "no-such-passkey", keep_session=mine)
        assert await live() == {mine, other}  # nothing revoked, nothing ended
        assert await world.service.revoke("u1", device.id, keep_session=mine)
        assert await live() == {mine}
        # an operator's reset: every passkey and every session
        await world.register(_with_session(mine))
        await world.register(_with_session(mine))
        assert len(await world.service.list("u1")) == 2
        assert await world.service.reset("u1") == 2
        assert await world.service.list("u1") == [] and await live() == set()

    run(scenario())


def _with_session(session_id: str) -> Principal:
    return Principal(
        subject="u1",
        credential_type="access_token",
        email="u1@example.com",
        provider="custom",
        session_id=session_id,
    )


def test_garbage_credentials_are_input_errors() -> None:
    async def scenario() -> None:
        world = World()
        who = principal()
        for bad in ({}, {"id": 3}, {"id": "x", "rawId": "x", "response": "no"}, {"type": []}):
            with pytest.raises(PasskeyInputError):
                await world.service.register(who, bad)
            with pytest.raises(PasskeyInputError):
                await world.service.sign_in(bad)

    run(scenario())


def test_a_burst_of_one_assertion_steps_up_once() -> None:
    """Twenty copies of one assertion at once: one challenge, consumed once."""

    async def scenario() -> list[Any]:
        world = World()
        who = principal()
        device = await world.register(who)
        credential = device.get(await world.service.authentication_options(who))
        return await asyncio.gather(
            *(world.service.step_up(who, credential) for _ in range(20)), return_exceptions=True
        )

    results = run(scenario())
    assert sum(isinstance(r, str) for r in results) == 1
    assert all(isinstance(r, PasskeyError) for r in results if not isinstance(r, str))


def test_options_are_limited_per_address() -> None:
    async def scenario() -> None:
        world = World(max_per_address=3)
        for _ in range(3):
            await world.service.authentication_options(None, address="203.0.113.9")
        with pytest.raises(RateLimitError):
            await world.service.authentication_options(None, address="203.0.113.9")
        await world.service.authentication_options(None, address="203.0.113.10")

    run(scenario())


# --- the routes ----------------------------------------------------------------------------------


@pytest.fixture
def routes(request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, Any]]:
    store = MemoryStore()
    limits = getattr(request, "param", {})
    app, auth = make_app(store=store, passkey_signin=True, cookie_sessions=False, **limits)
    service = auth.services.passkeys
    assert service is not None
    if service.sign_in_user is None:  # the accounts' SignInUser is not merged here yet
        service.sign_in_user = TokenSignIn(service.tokens)
    with TestClient(app, base_url=ORIGIN) as client:
        subject = auth.provider.subject  # type: ignore[attr-defined]
        run(store.create_user(UserRecord(subject, "passkey-user@example.com", None, NOW, NOW)))
        yield client, auth


def test_routes_register_list_rename_sign_in_step_up_and_revoke(
    routes: tuple[TestClient, Any],
) -> None:
    client, auth = routes
    headers = bearer(login(client)["access_token"])
    prefix = "/v1/auth/passkeys"
    options = client.post(prefix + "/register/options", headers=headers)
    assert options.status_code == 200 and options.headers["cache-control"] == "no-store"
    device = SoftAuthenticator(ORIGIN)
    made = client.post(
        prefix + "/register",
        headers=headers,
        json={"credential": device.create(options.json()), "name": "laptop"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["id"] == device.id and "public_key" not in made.json()
    listed = client.get(prefix, headers=headers).json()
    assert [p["name"] for p in listed] == ["laptop"]
    assert (
        client.patch(f"{prefix}/{device.id}", headers=headers, json={"name": "work"}).status_code
        == 204
    )
    assert client.patch(f"{prefix}/nope", headers=headers, json={"name": "x"}).status_code == 404
    assert client.get(prefix, headers=headers).json()[0]["name"] == "work"

    # sign in with the passkey alone (PASSKEY_SIGNIN=true)
    anonymous = client.post(prefix + "/authenticate/options").json()
    answer = client.post(prefix + "/authenticate", json={"credential": device.get(anonymous)})
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert auth.tokens.verify_access(tokens["access_token"])["amr"] == ["webauthn"]
    assert tokens["refresh_token"]

    # step up a signed-in session: a fresh access token alone
    signed_in = bearer(tokens["access_token"])
    step = client.post(prefix + "/authenticate/options", headers=signed_in).json()
    assert [c["id"] for c in step["allowCredentials"]] == [device.id]
    fresh = client.post(
        prefix + "/authenticate", headers=signed_in, json={"credential": device.get(step)}
    )
    assert fresh.status_code == 200 and "refresh_token" not in fresh.json()
    assert "webauthn" in auth.tokens.verify_access(fresh.json()["access_token"])["amr"]

    # a replayed assertion: 401
    again = client.post(prefix + "/authenticate", json={"credential": device.get(anonymous)})
    assert again.status_code == 401 and again.headers["cache-control"] == "no-store"

    assert client.delete(f"{prefix}/{device.id}", headers=headers).status_code == 204
    # a revoked passkey ended the user's other sessions (the passkey's own), not the caller's
    refresh = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    assert client.delete(f"{prefix}/{device.id}", headers=headers).status_code == 404
    assert client.delete(f"{prefix}/x%00", headers=headers).status_code == 404
    assert client.get(prefix).status_code == 401
    late = client.post(prefix + "/authenticate/options").json()
    assert (
        client.post(prefix + "/authenticate", json={"credential": device.get(late)}).status_code
        == 401
    )


def test_routes_refuse_an_api_key_and_malformed_bodies(routes: tuple[TestClient, Any]) -> None:
    client, _ = routes
    headers = bearer(login(client)["access_token"])
    prefix = "/v1/auth/passkeys"
    key = client.post("/v1/api-keys", headers=headers, json={"name": "k"})
    if key.status_code == 201:  # the api keys router is mounted in this app
        assert client.get(prefix, headers=bearer(key.json()["key"])).status_code == 403
    for body in ("[]", "{", '{"credential": 3}', '{"credential": {"id": NaN}}'):
        answer = client.post(
            prefix + "/register",
            headers={**headers, "content-type": "application/json"},
            content=body,
        )
        assert answer.status_code in (400, 422), (body, answer.status_code)
    assert (
        client.post(prefix + "/register", headers=headers, json={"credential": {}}).status_code
        == 422
    )
    assert client.patch(f"{prefix}/x", headers=headers, json={"name": ""}).status_code == 422


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_CREDENTIAL_KEYS = [
    "id",
    "rawId",
    "type",
    "response",
    "clientExtensionResults",
    "authenticatorAttachment",
]
_RESPONSE_KEYS = [
    "clientDataJSON",
    "attestationObject",
    "authenticatorData",
    "signature",
    "userHandle",
    "transports",
]


@st.composite
def credentials(draw: st.DrawFn) -> Any:
    """Credential-shaped JSON with any values in it (base64url text among them)."""
    b64 = st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=40
    )
    value = st.one_of(_JSON, b64)
    response = draw(st.dictionaries(st.sampled_from(_RESPONSE_KEYS), value, max_size=6))
    found = draw(st.dictionaries(st.sampled_from(_CREDENTIAL_KEYS), value, max_size=6))
    if draw(st.booleans()):
        found["response"] = response
    return draw(st.one_of(st.just(found), _JSON))


@pytest.fixture
def signed_in(routes: tuple[TestClient, Any]) -> dict[str, str]:
    return bearer(login(routes[0])["access_token"])


@pytest.mark.parametrize("routes", [{"login_max_per_address": 100_000}], indirect=True)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(credential=credentials())
def test_no_garbage_is_a_500(
    routes: tuple[TestClient, Any], signed_in: dict[str, str], credential: Any
) -> None:
    client, _ = routes
    prefix = "/v1/auth/passkeys"
    headers = signed_in
    for path, extra in ((prefix + "/register", headers), (prefix + "/authenticate", {})):
        answer = client.post(path, headers=extra, json={"credential": credential, "name": "n"})
        assert answer.status_code in (401, 422), (path, answer.status_code, answer.text)
