"""The SecondFactors service (tokenward.secondfactor) on the memory store: enrolment, the gate,
the challenge (TOTP and recovery codes, replay refused, single-use mfa_token), step-up and
freshness, removal, the operator's reset, the limits, and the secret stored encrypted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from _fastapi_support import TestClient, bearer, login, make_app
from tokenward._core import DebugTokens, OneTimeTokens, base32_decode, totp_code
from tokenward.exceptions import (
    InsufficientAuthenticationError,
    InvalidSecondFactorError,
    RateLimitError,
    SecondFactorStateError,
)
from tokenward.principal import Principal, from_token_claims
from tokenward.secondfactor import SecondFactors, totp_cipher
from tokenward.signin import SecondFactorGate
from tokenward.stores import UserRecord
from tokenward.stores.memory import MemoryStore
from tokenward.stores.sqlite import SQLiteStore
from tokenward.tokens import ClientInfo, TokenPair, TokenService

SECRET = b"a second-factor test secret of 32 bytes or more"
OLD_SECRET = b"the secret before the rotation, also 32 bytes long"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class World:
    """A store with one user, a token service, and the service under test."""

    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.store: Any = options.pop("store", None) or MemoryStore()
        self.tokens = TokenService(DebugTokens(SECRET), self.store, clock=self.clock)
        self.signed_in: list[tuple[str, tuple[str, ...], ClientInfo | None, str | None]] = []
        self.user = UserRecord(
            id="u1", email="ada@example.com", password_hash=None, created_at=T0, updated_at=T0
        )
        self.factors = SecondFactors(
            self.store,
            secret=SECRET,
            previous=options.pop("previous", ()),
            sign_in=self.sign_in,
            tokens=self.tokens,
            issuer="Vega",
            lifecycle=self.tokens.lifecycle,
            clock=self.clock,
            **options,
        )

    async def sign_in(
        self,
        user: UserRecord,
        *,
        client: ClientInfo | None = None,
        scope: str | None = None,
        amr: Sequence[str] = ("pwd",),
    ) -> TokenPair:
        self.signed_in.append((user.id, tuple(amr), client, scope))
        who = Principal(subject=user.id, credential_type="access_token", email=user.email)
        return await self.tokens.start(who, client=client, requested_scope=scope, amr=amr)

    async def session(self) -> str:
        """A new session of the user (a sign-in); its id."""
        pair = await self.sign_in(self.user)
        sid: str = self.claims(pair.access_token)["sid"]
        return sid

    async def live(self) -> set[str]:
        return {s.id for s in await self.store.list_sessions("u1", now=self.clock.now)}

    def code(self, secret: str, offset: int = 0) -> str:
        return totp_code(base32_decode(secret), int(self.clock.now) + offset)

    def claims(self, token: str) -> dict[str, Any]:
        return self.tokens.verify_access(token)

    async def enrolled(self) -> str:
        """A confirmed factor for the user; its base32 secret."""
        await self.store.create_user(self.user)
        made = await self.factors.enrol("u1", "ada@example.com")
        await self.factors.confirm("u1", self.code(made.secret))
        self.clock.now += 30  # the next code is a new step
        return made.secret


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_it_is_the_gate_password_sign_in_asks() -> None:
    world = World()
    gate: SecondFactorGate = world.factors  # structurally (mypy checks it)

    async def scenario() -> None:
        assert not await gate.required(world.user)
        await world.store.create_user(world.user)
        made = await world.factors.enrol("u1", "ada@example.com")
        assert not await gate.required(world.user)  # a pending factor guards nothing
        await world.factors.confirm("u1", world.code(made.secret))
        assert await gate.required(world.user)

    run(scenario())


def test_enrolment_shows_the_secret_once_and_stores_it_encrypted() -> None:
    world = World()

    async def scenario() -> None:
        made = await world.factors.enrol("u1", "ada@example.com")
        assert made.otpauth_uri.startswith("otpauth://totp/Vega:ada%40example.com?secret=")
        assert f"secret={made.secret}&" in made.otpauth_uri
        assert len(made.recovery_codes) == 10 and len(set(made.recovery_codes)) == 10
        raw = base32_decode(made.secret)
        assert len(raw) == 20
        stored = await world.store.get_totp("u1")
        assert stored is not None and not stored.confirmed
        assert stored.secret.startswith("tw1.") and made.secret not in stored.secret
        assert totp_cipher(SECRET).decrypt(stored.secret) == raw
        hashes = await world.store.recovery_code_hashes("u1")
        assert len(hashes) == 10 and not set(made.recovery_codes) & set(hashes)
        # a second enrolment while pending replaces the first
        again = await world.factors.enrol("u1", "ada@example.com")
        assert again.secret != made.secret
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.confirm("u1", world.code(made.secret))
        await world.factors.confirm("u1", world.code(again.secret))
        with pytest.raises(SecondFactorStateError):  # on already
            await world.factors.enrol("u1", "ada@example.com")
        with pytest.raises(SecondFactorStateError):  # nothing pending
            await world.factors.confirm("u1", world.code(again.secret, 30))

    run(scenario())


def test_confirm_without_enrolment_is_a_state_error() -> None:
    world = World()
    with pytest.raises(SecondFactorStateError):
        run(world.factors.confirm("u1", "123456"))


def test_challenge_with_totp_signs_in_with_otp_and_refuses_a_replay() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        client = ClientInfo("10.0.0.1", "curl/8")
        token = await world.factors.begin(world.user, client=client, scope="read")
        assert token.startswith("twm_")
        code = world.code(secret)
        pair = await world.factors.challenge(token, code, address="10.0.0.1")
        assert world.signed_in == [("u1", ("pwd", "otp"), client, "read")]
        claims = world.claims(pair.access_token)
        assert claims["amr"] == ["pwd", "otp"] and claims["mfa_time"] == int(world.clock.now)
        principal = from_token_claims(claims)
        assert principal.amr == ("pwd", "otp") and principal.mfa_time == int(world.clock.now)
        # the token is spent; a new sign-in with the same code is a replay
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge(token, code)
        again = await world.factors.begin(world.user)
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge(again, code)
        world.clock.now += 30
        await world.factors.challenge(again, world.code(secret))  # the wrong tries did not spend it

    run(scenario())


def test_a_refresh_keeps_amr_and_the_time_of_the_factor() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        token = await world.factors.begin(world.user)
        pair = await world.factors.challenge(token, world.code(secret))
        signed_at = int(world.clock.now)
        world.clock.now += 600
        later = await world.tokens.refresh(pair.refresh_token)
        claims = world.claims(later.access_token)
        assert claims["amr"] == ["pwd", "otp"] and claims["mfa_time"] == signed_at
        # a password-only session: amr, and no mfa_time
        plain = await world.sign_in(world.user)
        claims = world.claims(plain.access_token)
        assert claims["amr"] == ["pwd"] and "mfa_time" not in claims

    run(scenario())


def test_a_recovery_code_works_once_and_counts_as_otp() -> None:
    world = World()

    async def scenario() -> None:
        await world.store.create_user(world.user)
        made = await world.factors.enrol("u1", "ada@example.com")
        await world.factors.confirm("u1", world.code(made.secret))
        typed = made.recovery_codes[3].lower().replace("-", " ")
        token = await world.factors.begin(world.user)
        await world.factors.challenge(token, typed)
        assert world.signed_in[-1][1] == ("pwd", "otp")
        again = await world.factors.begin(world.user)
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge(again, made.recovery_codes[3])
        assert len(await world.store.recovery_code_hashes("u1")) == 9

    run(scenario())


def test_an_expired_or_unknown_mfa_token_and_a_disabled_user_are_refused() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        token = await world.factors.begin(world.user)
        world.clock.now += 301
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge(token, world.code(secret))
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge("twm_nothing", world.code(secret))
        token = await world.factors.begin(world.user)
        await world.store.update_user("u1", now=world.clock.now, disabled=True)
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge(token, world.code(secret))
        assert world.signed_in == []

    run(scenario())


def test_a_burst_of_challenges_with_one_token_signs_in_once() -> None:
    world = World()

    async def scenario() -> None:
        await world.store.create_user(world.user)
        made = await world.factors.enrol("u1", "ada@example.com")
        await world.factors.confirm("u1", world.code(made.secret))
        token = await world.factors.begin(world.user)
        codes = made.recovery_codes[:5]  # five different valid codes at once

        async def one(code: str) -> bool:
            try:
                await world.factors.challenge(token, code)
            except InvalidSecondFactorError:
                return False
            return True

        results = await asyncio.gather(*(one(c) for c in codes))
        assert results.count(True) == 1
        assert len(world.signed_in) == 1

    run(scenario())


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_losing_challenge_spends_no_recovery_code(kind: str, tmp_path: Path) -> None:
    """A burst with one mfa_token and recovery codes (one of them twice): one request wins
    the token and spends its code; the losers are refused before their codes are looked at,
    so every other code still works afterwards. On SQLite the requests really interleave
    (each store call waits for the store's thread)."""
    store = SQLiteStore(tmp_path / "mfa.db") if kind == "sqlite" else MemoryStore()
    world = World(store=store, max_attempts=50)

    async def scenario() -> None:
        await store.open()
        try:
            await world.store.create_user(world.user)
            made = await world.factors.enrol("u1", "ada@example.com")
            await world.factors.confirm("u1", world.code(made.secret))
            token = await world.factors.begin(world.user)
            codes = made.recovery_codes
            burst = [codes[0], codes[0], codes[1], codes[2], codes[3], codes[4]]

            async def one(code: str) -> bool:
                try:
                    await world.factors.challenge(token, code)
                except InvalidSecondFactorError:
                    return False
                return True

            results = await asyncio.gather(*(one(c) for c in burst))
            assert results.count(True) == 1 and len(world.signed_in) == 1
            spent = burst[results.index(True)]
            assert len(await world.store.recovery_code_hashes("u1")) == 9
            for code in dict.fromkeys(burst):  # each loser's code still signs in, once
                again = await world.factors.begin(world.user)
                if code == spent:
                    with pytest.raises(InvalidSecondFactorError):
                        await world.factors.challenge(again, code)
                else:
                    await world.factors.challenge(again, code)
            assert len(await world.store.recovery_code_hashes("u1")) == 5
        finally:
            await store.close()

    run(scenario())


def test_a_wrong_code_keeps_the_token_and_a_right_one_spends_it() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        token = await world.factors.begin(world.user)
        for wrong in ("000000", "AAAA-BBBB-CCCC"):
            with pytest.raises(InvalidSecondFactorError):
                await world.factors.challenge(token, wrong)
        await world.factors.challenge(token, world.code(secret))
        world.clock.now += 30
        with pytest.raises(InvalidSecondFactorError):  # spent
            await world.factors.challenge(token, world.code(secret))
        assert len(world.signed_in) == 1

    run(scenario())


def test_limits_per_token_per_account_and_per_address() -> None:
    world = World(max_attempts=3)

    async def scenario() -> None:
        secret = await world.enrolled()
        token = await world.factors.begin(world.user)
        for _ in range(3):
            with pytest.raises(InvalidSecondFactorError):
                await world.factors.challenge(token, "000000")
        with pytest.raises(RateLimitError) as caught:  # the right code no longer gets a try
            await world.factors.challenge(token, world.code(secret))
        assert 0 < caught.value.retry_after <= 900
        # a new token for the same account: the account's limit holds too
        other = await world.factors.begin(world.user)
        with pytest.raises(RateLimitError):
            await world.factors.challenge(other, world.code(secret))
        world.clock.now += 901  # the window ends
        other = await world.factors.begin(world.user)
        pair = await world.factors.challenge(other, world.code(secret))
        assert pair.access_token
        # per address, whatever the account or token
        for _ in range(3):
            with pytest.raises(InvalidSecondFactorError):
                await world.factors.challenge("twm_unknown", "1", address="10.9.9.9")
        with pytest.raises(RateLimitError):
            await world.factors.challenge("twm_unknown", "1", address="10.9.9.9")

    run(scenario())


def test_successes_give_their_places_back() -> None:
    world = World(max_attempts=2)

    async def scenario() -> None:
        secret = await world.enrolled()
        for _ in range(4):  # more sign-ins than max_attempts, each right
            token = await world.factors.begin(world.user)
            await world.factors.challenge(token, world.code(secret), address="10.0.0.2")
            world.clock.now += 30

    run(scenario())


def test_step_up_gives_a_fresh_token_in_the_same_session() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        pair = await world.sign_in(world.user)  # password only (as before MFA was on)
        who = from_token_claims(world.claims(pair.access_token))
        assert who.mfa_time is None
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.step_up(who, "000000")
        fresh = await world.factors.step_up(who, world.code(secret))
        claims = world.claims(fresh)
        assert claims["amr"] == ["pwd", "otp"] and claims["mfa_time"] == int(world.clock.now)
        assert claims["sid"] == who.session_id
        with pytest.raises(InvalidSecondFactorError):  # the same code again
            await world.factors.step_up(who, world.code(secret))
        api_key = Principal(subject="u1", credential_type="api_key")
        with pytest.raises(SecondFactorStateError):
            await world.factors.step_up(api_key, world.code(secret, 30))

    run(scenario())


def test_step_up_without_a_factor_is_a_state_error() -> None:
    world = World()
    who = Principal(subject="u1", credential_type="access_token", provider="custom")
    with pytest.raises(SecondFactorStateError):
        run(world.factors.step_up(who, "123456"))


def test_disable_needs_a_fresh_factor() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        with pytest.raises(InsufficientAuthenticationError) as caught:
            await world.factors.disable("u1")
        assert caught.value.max_age == 300
        with pytest.raises(InsufficientAuthenticationError):  # too old
            await world.factors.disable("u1", mfa_time=world.clock.now - 301)
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.disable("u1", code="000000")
        await world.factors.disable("u1", mfa_time=world.clock.now - 299)
        assert await world.store.get_totp("u1") is None
        with pytest.raises(SecondFactorStateError):
            await world.factors.disable("u1", code=world.code(secret))
        # with a code
        made = await world.factors.enrol("u1", "ada@example.com")
        await world.factors.confirm("u1", world.code(made.secret))
        world.clock.now += 30
        await world.factors.disable("u1", code=world.code(made.secret))
        assert not await world.factors.required(world.user)

    run(scenario())


def test_an_operator_reset_removes_the_factor_and_waiting_sign_ins() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        token = await world.factors.begin(world.user)
        assert await world.factors.reset("u1")
        assert not await world.factors.reset("u1")
        assert await world.store.recovery_code_hashes("u1") == []
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.challenge(token, world.code(secret))

    run(scenario())


def test_secrets_and_codes_made_under_a_previous_secret_still_work() -> None:
    before = World()

    async def scenario() -> None:
        await before.store.create_user(before.user)
        old = SecondFactors(
            before.store, secret=OLD_SECRET, sign_in=before.sign_in, clock=before.clock
        )
        made = await old.enrol("u1", "ada@example.com")
        await old.confirm("u1", before.code(made.secret))
        before.clock.now += 30
        rotated = SecondFactors(
            before.store,
            secret=SECRET,
            previous=[OLD_SECRET],
            sign_in=before.sign_in,
            clock=before.clock,
        )
        token = await rotated.begin(before.user)
        await rotated.challenge(token, before.code(made.secret))
        token = await rotated.begin(before.user)
        await rotated.challenge(token, made.recovery_codes[0])
        # an mfa_token handed out before the rotation is still found (under the old key)
        waiting = await old.begin(before.user)
        before.clock.now += 30
        await rotated.challenge(waiting, before.code(made.secret))

    run(scenario())


def test_turning_totp_on_or_off_ends_the_other_sessions_and_a_reset_ends_all() -> None:
    world = World()

    async def scenario() -> None:
        await world.store.create_user(world.user)
        mine, other = await world.session(), await world.session()
        made = await world.factors.enrol("u1", "ada@example.com")
        assert await world.live() == {mine, other}  # a pending factor changes nothing
        await world.factors.confirm("u1", world.code(made.secret), keep_session=mine)
        assert await world.live() == {mine}
        world.clock.now += 30
        other = await world.session()
        await world.factors.disable("u1", code=world.code(made.secret), keep_session=mine)
        assert await world.live() == {mine}
        # an operator's reset ends every session, the caller's included
        made = await world.factors.enrol("u1", "ada@example.com")
        await world.factors.confirm("u1", world.code(made.secret), keep_session=mine)
        await world.session()
        assert await world.factors.reset("u1")
        assert await world.live() == set()

    run(scenario())


def test_a_refused_change_ends_no_session() -> None:
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        mine, other = await world.session(), await world.session()
        with pytest.raises(InvalidSecondFactorError):
            await world.factors.disable("u1", code="000000", keep_session=mine)
        with pytest.raises(InsufficientAuthenticationError):
            await world.factors.disable("u1", keep_session=mine)
        assert await world.live() == {mine, other}
        assert await world.factors.required(world.user) and secret

    run(scenario())


def test_the_routes_keep_the_callers_session_and_end_the_others() -> None:
    """POST /mfa/totp/confirm and DELETE /mfa/totp through the auth router: the session of the
    request stays, another session of the same user ends (its refresh token is refused)."""
    store = MemoryStore()
    app, auth = make_app(store=store, cookie_sessions=False)
    with TestClient(app) as client:
        subject = auth.provider.subject  # type: ignore[attr-defined]
        run(store.create_user(UserRecord(subject, "mfa-user@example.com", None, T0, T0)))
        mine, other = login(client), login(client)
        headers = bearer(mine["access_token"])

        def refreshes(pair: dict[str, Any]) -> bool:
            answer = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            if answer.status_code == 200:
                pair.update(answer.json())
            return answer.status_code == 200

        made = client.post("/v1/auth/mfa/totp", headers=headers).json()
        code = totp_code(base32_decode(made["secret"]), int(time.time()))
        confirmed = client.post("/v1/auth/mfa/totp/confirm", headers=headers, json={"code": code})
        assert confirmed.status_code == 204, confirmed.text
        assert not refreshes(other) and refreshes(mine)
        headers = bearer(mine["access_token"])
        other = login(client)  # the debug user has no second factor of the gate's
        off = client.request(
            "DELETE",
            "/v1/auth/mfa/totp",
            headers=headers,
            json={"code": made["recovery_codes"][0]},
        )
        assert off.status_code == 204, off.text
        assert not refreshes(other) and refreshes(mine)


def test_the_mfa_token_is_made_and_hashed_in_the_native_core() -> None:
    """twm_ and 256 bits (OneTimeTokens, purpose "mfa"); the store holds only the HMAC of the
    token under the key of AUTH_SECRET for that purpose, no e-mail token's hash."""
    world = World()

    async def scenario() -> None:
        secret = await world.enrolled()
        token = await world.factors.begin(world.user)
        mfa = OneTimeTokens(SECRET, "mfa")
        assert mfa.is_token(token) and token.startswith("twm_") and len(token) == 47
        assert await world.store.get_pending_sign_in(mfa.hash(token), now=world.clock.now)
        relabelled = "twr_" + token[4:]  # the same random part as a reset token: not found
        reset_hash = OneTimeTokens(SECRET, "reset-password").hash(relabelled)
        assert await world.store.get_pending_sign_in(reset_hash, now=world.clock.now) is None
        for malformed in (relabelled, token[:-1], token + "A", token.upper(), "twm_\ud800"):
            with pytest.raises(InvalidSecondFactorError):
                await world.factors.challenge(malformed, world.code(secret))
        await world.factors.challenge(token, world.code(secret))

    run(scenario())
