"""Second factors for accounts: TOTP enrolment, the sign-in challenge, step-up, recovery codes.

:class:`SecondFactors` is the :class:`~tokenward.signin.SecondFactorGate` password sign-in asks
(:meth:`~SecondFactors.required`: the user has a confirmed TOTP factor; then
:meth:`~SecondFactors.begin` answers an ``mfa_token`` instead of a session), and the service
behind the routes of docs/mfa.md. Framework-free; what it keeps is an :class:`MfaStore`:

* the TOTP secret, encrypted with a :class:`~tokenward._core.FieldCipher` whose key is derived
  (HKDF-SHA256, in the native core) from ``AUTH_SECRET`` under a key id of its own,
  ``mfa1.<fingerprint>`` (a keyed fingerprint of the secret, so that after a rotation the
  secrets encrypted under ``AUTH_SECRET_PREVIOUS`` are still read);
* the last accepted time step (:class:`~tokenward.mfa.TotpVerifier`'s replay refusal: one
  conditional ``UPDATE``);
* the recovery codes, as keyed hashes (:class:`~tokenward.mfa.RecoveryCodes`);
* the sign-ins waiting for a second factor, by the hash of their ``mfa_token``, each
  single-use and short-lived. The token is made and hashed in the native core as the e-mail
  tokens are (:class:`~tokenward._core.OneTimeTokens`, purpose ``"mfa"``: ``twm_`` and 256 bits
  from the private DRBG; the hash an HMAC-SHA256 under a key HKDF derives from ``AUTH_SECRET``
  for this purpose alone; a token made before a rotation is still found under
  ``AUTH_SECRET_PREVIOUS``). A challenge takes its sign-in (one atomic delete) before it
  looks at the code and puts it back after a wrong one, so a request that loses a race for
  the ``mfa_token`` never spends a recovery code.

Every attempt (a challenge, a confirmation, a step-up, a removal with a code) goes through the
atomic limiter (:meth:`~tokenward.stores.CounterStore.reserve`): ``max_attempts`` per
``attempt_window`` per client address, per ``mfa_token`` and per account, so a patient attacker
spread over many addresses and sign-ins still gets that many guesses per window on one account.
A success gives its reservations back.

A recovery code ends a challenge with ``amr`` ``("pwd", "otp")``, as a TOTP code does: RFC 8176
has no value of its own for it, and it is a one-time password in the plain sense (it works once).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tokenward._core import FieldCipher, OneTimeTokens, base32_encode, totp_secret
from tokenward.exceptions import (
    ConfigurationError,
    DecryptionError,
    DuplicateKeyError,
    InsufficientAuthenticationError,
    InvalidSecondFactorError,
    MalformedTokenError,
    RateLimitError,
    SecondFactorStateError,
    StoreError,
)
from tokenward.mfa import RecoveryCodes, TotpVerifier, otpauth_uri
from tokenward.principal import Principal
from tokenward.sessions import SessionLifecycle
from tokenward.signin import SignInUser
from tokenward.stores.base import (
    CounterStore,
    MfaStore,
    PendingSignIn,
    TotpRecord,
    UserRecord,
    UserStore,
)
from tokenward.tokens import ClientInfo, TokenPair, TokenService

__all__ = ["Enrolment", "MfaBackend", "SecondFactors", "totp_cipher"]

_log = logging.getLogger("tokenward")

MFA_TOKEN_PREFIX = "twm_"
_KEY_ID_LABEL = b"tokenward mfa totp-secret key id v1"
_MAX_CODE_CHARS = 64


class MfaBackend(MfaStore, UserStore, CounterStore, Protocol):
    """What :class:`SecondFactors` keeps its state in: every backend store is one."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A new, pending TOTP factor: show all of it once (the secret as base32 and as the Key URI
    a QR code carries, and the recovery codes); none of it can be read back later."""

    secret: str
    otpauth_uri: str
    recovery_codes: list[str]


def _key_id(secret: bytes) -> str:
    fingerprint = hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]
    return f"mfa1.{fingerprint}"


def totp_cipher(secret: bytes, previous: Sequence[bytes] = ()) -> FieldCipher:
    """The cipher of stored TOTP secrets: ``secret`` (``AUTH_SECRET``) encrypts, and each of
    ``previous`` (``AUTH_SECRET_PREVIOUS``) still decrypts. Each key is HKDF-SHA256 of its
    secret with the info ``tw1/aes-256-gcm/mfa1.<fingerprint>`` (docs/field-encryption.md), so
    it differs from every other key tokenward derives from the same secret."""
    keys = {_key_id(item): item for item in (secret, *previous)}
    return FieldCipher(keys, primary=_key_id(secret))


def _counter_key(user_id: str) -> str:
    """A user's attempt counter's key: a digest, so that no user id reaches the counter store."""
    return hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class SecondFactors:
    """TOTP and recovery codes for the accounts of ``store`` (see the module's text).

    ``sign_in`` starts the session a challenge ends in (``Services.sign_in_user``); ``tokens``
    makes the step-up's fresh access token; ``secret`` and ``previous`` are ``AUTH_SECRET`` and
    ``AUTH_SECRET_PREVIOUS``; ``issuer`` is what an authenticator app shows beside the account.
    ``lifecycle`` ends sessions when a factor is turned on or off (a security event, as a
    password change is): the user's other sessions after :meth:`confirm` and :meth:`disable`
    (the caller's, ``keep_session``, stays), all of them after an operator's :meth:`reset`.
    """

    def __init__(
        self,
        store: MfaBackend,
        *,
        secret: bytes,
        previous: Sequence[bytes] = (),
        sign_in: SignInUser | None = None,
        tokens: TokenService | None = None,
        issuer: str = "tokenward",
        max_attempts: int = 5,
        attempt_window: float = 900.0,
        token_ttl: float = 300.0,
        fresh_max_age: int = 300,
        lifecycle: SessionLifecycle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1 or attempt_window <= 0 or token_ttl <= 0 or fresh_max_age <= 0:
            raise ConfigurationError("the second-factor limits and lifetimes must be positive")
        self.store = store
        self._cipher = totp_cipher(secret, previous)
        self._verifier = TotpVerifier(store, clock=clock)
        self._recovery = [RecoveryCodes(store, item) for item in (secret, *previous)]
        self._mfa_tokens = [OneTimeTokens(item, "mfa") for item in (secret, *previous)]
        self.sign_in = sign_in
        self.tokens = tokens
        self.issuer = issuer
        self.max_attempts = max_attempts
        self.attempt_window = attempt_window
        self.token_ttl = token_ttl
        self.fresh_max_age = fresh_max_age
        self.lifecycle = lifecycle
        self._clock = clock

    def __repr__(self) -> str:
        return f"<SecondFactors issuer={self.issuer!r}>"

    # --- the gate password sign-in asks --------------------------------------------------------

    async def required(self, user: UserRecord) -> bool:
        """Whether ``user`` has a confirmed TOTP factor (a pending one guards nothing)."""
        record = await self.store.get_totp(user.id)
        return record is not None and record.confirmed

    async def begin(
        self, user: UserRecord, *, client: ClientInfo | None = None, scope: str | None = None
    ) -> str:
        """A new ``mfa_token`` for ``user``'s password sign-in, single-use, for ``token_ttl``."""
        token, token_hash = self._mfa_tokens[0].issue()
        pending = PendingSignIn(
            user_id=user.id,
            expires_at=self._clock() + self.token_ttl,
            client_address=None if client is None else client.address,
            user_agent=None if client is None or not client.user_agent else client.user_agent[:512],
            scope=scope,
        )
        await self.store.add_pending_sign_in(token_hash, pending)
        return token

    # --- enrolment -----------------------------------------------------------------------------

    async def enrol(self, user_id: str, account: str) -> Enrolment:
        """A new pending TOTP factor for ``user_id`` (``account``, usually the email, is the
        label the authenticator app shows) and 10 new recovery codes, replacing a pending
        factor and every earlier code. SecondFactorStateError when a factor is on already."""
        raw = totp_secret()
        codes, hashes = self._recovery[0].new_codes()
        label = account.replace(":", " ").strip()[:256] or user_id[:256]
        uri = otpauth_uri(raw, label, self.issuer)
        stored = self._cipher.encrypt(raw)
        if not await self.store.begin_totp(user_id, stored, hashes, now=self._clock()):
            raise SecondFactorStateError(
                "two-step sign-in is on already: turn it off first (DELETE /v1/auth/mfa/totp)"
            )
        return Enrolment(secret=base32_encode(raw), otpauth_uri=uri, recovery_codes=codes)

    async def confirm(
        self,
        user_id: str,
        code: str,
        *,
        address: str | None = None,
        keep_session: str | None = None,
    ) -> None:
        """Turn the pending factor on with a current code from the app; every session of the
        user but ``keep_session`` (the caller's) ends. SecondFactorStateError without a pending
        factor; InvalidSecondFactorError for a wrong code."""
        record = await self.store.get_totp(user_id)
        if record is None or record.confirmed:
            raise SecondFactorStateError(
                "there is no pending enrolment to confirm: POST /v1/auth/mfa/totp first"
            )
        held = await self._reserve(address=address, user_id=user_id)
        if await self._verifier.verify(user_id, self._secret(record), _code(code)) is None:
            raise InvalidSecondFactorError("the code is not valid: enter the current one")
        await self.store.confirm_totp(user_id, now=self._clock())
        await self._release(held)
        await self._end_sessions(user_id, keep_session)
        _log.info("tokenward: two-step sign-in turned on for user %s", user_id)

    async def disable(
        self,
        user_id: str,
        *,
        code: str | None = None,
        mfa_time: float | None = None,
        address: str | None = None,
        keep_session: str | None = None,
    ) -> None:
        """Turn TOTP off (its recovery codes, waiting sign-ins and every session of the user
        but ``keep_session``, the caller's, go too). It needs a fresh
        factor: ``code`` (a current TOTP code or a recovery code), or an ``mfa_time`` (the
        caller's token's) at most ``fresh_max_age`` seconds old; InsufficientAuthenticationError
        without either, InvalidSecondFactorError for a wrong code, SecondFactorStateError when
        no factor is on."""
        record = await self.store.get_totp(user_id)
        if record is None:
            raise SecondFactorStateError("two-step sign-in is not on")
        if code:
            held = await self._reserve(address=address, user_id=user_id)
            if not await self._check(user_id, record, code):
                raise InvalidSecondFactorError("the code is not valid")
            await self._release(held)
        elif not self.fresh(mfa_time, self.fresh_max_age) and record.confirmed:
            raise InsufficientAuthenticationError(
                "turning two-step sign-in off needs a code, or a second factor in the last "
                f"{self.fresh_max_age} seconds (POST /v1/auth/mfa/step-up)",
                max_age=self.fresh_max_age,
                subject=user_id,
            )
        await self._remove(user_id)
        await self._end_sessions(user_id, keep_session)

    async def reset(self, user_id: str) -> bool:
        """An operator's reset (a lost device, no codes left): the factor, its recovery codes,
        the user's waiting sign-ins and every session of the user are removed (whoever holds
        them signs in again, with the password alone). False when no factor was there."""
        removed = await self._remove(user_id)
        await self._end_sessions(user_id, None)
        return removed

    async def _remove(self, user_id: str) -> bool:
        removed = await self.store.delete_totp(user_id)
        await self.store.delete_pending_sign_ins(user_id)
        if removed:
            _log.warning("tokenward: two-step sign-in removed for user %s", user_id)
        return removed

    async def _end_sessions(self, user_id: str, keep_session: str | None) -> None:
        """A factor went on or off: the user's sessions but ``keep_session`` end (through the
        one session life cycle, so the access-token session check forgets them at once)."""
        if self.lifecycle is not None:
            ended = await self.lifecycle.end_others(user_id, keep_session)
            if ended:
                _log.info("tokenward: %d other session(s) of user %s ended", ended, user_id)

    # --- the challenge and step-up -------------------------------------------------------------

    async def challenge(
        self, mfa_token: str, code: str, *, address: str | None = None
    ) -> TokenPair:
        """Finish a password sign-in: ``code`` (a TOTP code or a recovery code) for the user of
        ``mfa_token``; the session starts through :class:`~tokenward.signin.SignInUser` with
        ``amr`` ``("pwd", "otp")``. InvalidSecondFactorError for a wrong code, an unknown,
        expired or spent token, or a user gone or disabled since; RateLimitError past the
        limits. The pending sign-in is taken before the code is looked at and put back after a
        wrong one: of concurrent challenges with one token at most one starts a session, and
        only the request holding the token checks its code, so a losing request spends no
        recovery code and no TOTP step."""
        if self.sign_in is None:
            raise ConfigurationError("second-factor sign-in needs the accounts' sign-in")
        hashes = self._token_hashes(mfa_token)
        refused = InvalidSecondFactorError(
            "the code or the mfa_token is not valid (wrong, used, or expired: sign in again)"
        )
        held = await self._reserve(address=address, token_hash=hashes[0] if hashes else None)
        # The pending sign-in is taken first, in one atomic step: from here on this request
        # alone holds it, so only the request that wins the mfa_token checks (and may spend) a
        # code. Concurrent requests with the same token find nothing and are refused without
        # touching the user's codes.
        pending: PendingSignIn | None = None
        for token_hash in hashes:  # AUTH_SECRET's hash, then AUTH_SECRET_PREVIOUS's
            pending = await self.store.consume_pending_sign_in(token_hash, now=self._clock())
            if pending is not None:
                break
        if pending is None:
            raise refused
        done = False
        try:
            held += await self._reserve(user_id=pending.user_id)
            user = await self.store.get_user(pending.user_id)
            record = await self.store.get_totp(pending.user_id)
            if user is None or user.disabled or record is None or not record.confirmed:
                done = True  # it can never succeed: the sign-in is not put back
                raise refused
            if not await self._check(user.id, record, code):
                raise refused
            done = True
        finally:
            if not done:  # a wrong code (or a limit, or a failure): the token may try again
                await self._put_back(token_hash, pending)
        await self._release(held)
        client = ClientInfo(pending.client_address, pending.user_agent)
        return await self.sign_in(user, client=client, scope=pending.scope, amr=("pwd", "otp"))

    async def step_up(self, who: Principal, code: str, *, address: str | None = None) -> str:
        """A fresh access token for ``who`` (signed in with an access token of this provider)
        after a current TOTP code or a recovery code: ``amr`` gains ``otp``, ``mfa_time`` is
        now. SecondFactorStateError when the user has no factor on."""
        if self.tokens is None:
            raise ConfigurationError("step-up needs the custom provider's token service")
        if who.credential_type != "access_token" or who.provider != "custom":
            raise SecondFactorStateError("step-up needs an access token of this app's sign-in")
        record = await self.store.get_totp(who.subject)
        if record is None or not record.confirmed:
            raise SecondFactorStateError(
                "two-step sign-in is not on: enrol first (POST /v1/auth/mfa/totp)"
            )
        held = await self._reserve(address=address, user_id=who.subject)
        if not await self._check(who.subject, record, code):
            raise InvalidSecondFactorError("the code is not valid")
        await self._release(held)
        amr = tuple(dict.fromkeys((*(who.amr or ("pwd",)), "otp")))
        return await self.tokens.step_up(who, amr)

    def fresh(self, mfa_time: float | None, max_age: float) -> bool:
        """Whether a second factor at ``mfa_time`` is at most ``max_age`` seconds old."""
        return mfa_time is not None and self._clock() - mfa_time <= max_age

    # --- inside --------------------------------------------------------------------------------

    def _token_hashes(self, mfa_token: str) -> list[str]:
        """The hashes ``mfa_token`` may be stored under (HMAC-SHA256 in the native core, under
        a key derived from ``AUTH_SECRET``, then from each previous secret); none when it is
        not an mfa_token's exact shape."""
        try:
            return [tokens.hash(mfa_token[:_MAX_CODE_CHARS]) for tokens in self._mfa_tokens]
        except MalformedTokenError:
            return []

    async def _put_back(self, token_hash: str, pending: PendingSignIn) -> None:
        """Return a pending sign-in the challenge took but did not finish (a wrong code): the
        same hash and expiry, so its attempts go on counting against the same limits."""
        if pending.expires_at <= self._clock():
            return
        try:
            await self.store.add_pending_sign_in(token_hash, pending)
        except DuplicateKeyError:  # cannot happen: the hash is 256 random bits, taken by us
            pass

    def _secret(self, record: TotpRecord) -> bytes:
        try:
            return self._cipher.decrypt(record.secret)
        except DecryptionError as exc:  # another AUTH_SECRET, or a damaged row
            raise StoreError(
                f"the TOTP secret of user {record.user_id} cannot be decrypted with this "
                "AUTH_SECRET (or AUTH_SECRET_PREVIOUS)"
            ) from exc

    async def _check(self, user_id: str, record: TotpRecord, code: str) -> bool:
        """Whether ``code`` is a current TOTP code (not used before) or one of the user's unused
        recovery codes (used up by this call)."""
        typed = _code(code)
        if typed.isdigit() and len(typed) <= 8:
            return await self._verifier.verify(user_id, self._secret(record), typed) is not None
        for codes in self._recovery:
            if await codes.use(user_id, typed):
                _log.info("tokenward: user %s used a recovery code", user_id)
                return True
        return False

    async def _reserve(
        self,
        *,
        address: str | None = None,
        token_hash: str | None = None,
        user_id: str | None = None,
    ) -> list[tuple[str, float]]:
        """One place in the window of each key (address, token, account), or RateLimitError
        (the places this call took are given back)."""
        keys = []
        if address:
            keys.append(f"mfa-address:{address}")
        if token_hash:
            keys.append(f"mfa-token:{token_hash[:40]}")
        if user_id:
            keys.append("mfa-user:" + _counter_key(user_id))
        held: list[tuple[str, float]] = []
        now = self._clock()
        for key in keys:
            got = await self.store.reserve(
                key, limit=self.max_attempts, window=self.attempt_window, now=now
            )
            if not got.granted:
                await self._release(held)
                raise RateLimitError(
                    "Too many second-factor attempts.", retry_after=got.reset_at - now
                )
            held.append((key, got.reset_at))
        return held

    async def _release(self, held: list[tuple[str, float]]) -> None:
        for key, reset_at in held:
            await self.store.release(key, reset_at=reset_at)


def _code(code: str) -> str:
    """The code as typed, bounded, with the spaces an app shows in the middle dropped."""
    return code[:_MAX_CODE_CHARS].replace(" ", "").strip()
