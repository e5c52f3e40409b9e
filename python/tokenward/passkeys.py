"""Passkeys (WebAuthn) for the custom provider's accounts, without a framework (docs/passkeys.md).

The ceremonies' checks are py_webauthn's (``pip install 'tokenward[passkeys]'``); this module adds
what must be remembered between the two halves of a ceremony and after it, on a
:class:`~tokenward.stores.PasskeyStore`:

* **registration** (signed in): :meth:`PasskeyService.registration_options` makes a challenge
  bound to the user (user verification required, a discoverable credential preferred, the
  user's passkeys excluded); :meth:`PasskeyService.register` consumes it once and stores the
  credential's public key.
* **authentication**: :meth:`PasskeyService.authentication_options` makes a challenge bound to
  the signed-in user with an allow-list of their passkeys (a *step-up*), or, with
  ``PASSKEY_SIGNIN=true`` and nobody signed in, bound to nobody with an empty allow-list (a
  discoverable passkey names its user). :meth:`PasskeyService.step_up` answers with a fresh
  access token (``amr`` gains ``webauthn``, ``mfa_time`` now) in the same session;
  :meth:`PasskeyService.sign_in` starts a session through the one
  :class:`~tokenward.signin.SignInUser` with ``amr`` ``("webauthn",)``.

Every assertion is checked for its origin (``WEBAUTHN_ORIGINS``), RP ID (``WEBAUTHN_RP_ID``),
user verification, signature, and a counter that moves forward (stored in one conditional
write, so a replay racing the first use fails too). Each ceremony's challenge is random (32
bytes), stored only as its SHA-256, lives five minutes and is consumed once. Options and
verifications are counted per client address through the atomic limiter (429 past
``LOGIN_MAX_PER_ADDRESS`` per minute).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokenward.exceptions import (
    ConfigurationError,
    DuplicateKeyError,
    NotAuthenticatedError,
    PasskeyError,
    PasskeyInputError,
    RateLimitError,
)
from tokenward.principal import Principal
from tokenward.sessions import SessionLifecycle
from tokenward.signin import SignInUser
from tokenward.stores import CounterStore, PasskeyRecord, PasskeyStore, UserStore
from tokenward.stores.base import MAX_PASSKEY_NAME
from tokenward.tokens import ClientInfo, TokenPair, TokenService

try:
    from webauthn import (
        generate_authentication_options,
        generate_registration_options,
        options_to_json,
        verify_authentication_response,
        verify_registration_response,
    )
    from webauthn.helpers import (
        base64url_to_bytes,
        bytes_to_base64url,
        parse_authentication_credential_json,
        parse_client_data_json,
        parse_registration_credential_json,
    )
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import (
        AuthenticationCredential,
        AuthenticatorSelectionCriteria,
        AuthenticatorTransport,
        CredentialDeviceType,
        PublicKeyCredentialDescriptor,
        RegistrationCredential,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ConfigurationError(
        "passkeys need py_webauthn: pip install 'tokenward[passkeys]'"
    ) from exc

__all__ = ["CHALLENGE_TTL", "MAX_PASSKEYS_PER_USER", "PasskeyService", "PasskeyView"]

_log = logging.getLogger("tokenward")

CHALLENGE_TTL = 300  # seconds a ceremony's challenge lives
MAX_PASSKEYS_PER_USER = 20
MAX_USER_HANDLE_BYTES = 64  # WebAuthn's bound on user.id
AMR = "webauthn"  # RFC 8176
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
# What a credential that is not WebAuthn's JSON (or holds nonsense in it) makes py_webauthn and
# its parsers (cbor2, cryptography, pydantic-free dataclasses) raise.
_UNREADABLE = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, OverflowError)
_FAILED = "The passkey could not be verified: start again with new options."


@dataclass(frozen=True, slots=True)
class PasskeyView:
    """A passkey as its owner sees it: no public key."""

    id: str
    name: str
    created_at: float
    last_used_at: float | None
    transports: tuple[str, ...]
    synced: bool  # backup eligible: a passkey a platform syncs between devices
    aaguid: str


def _view(record: PasskeyRecord) -> PasskeyView:
    return PasskeyView(
        id=record.id,
        name=record.name,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        transports=record.transports,
        synced=record.backup_eligible,
        aaguid=record.aaguid,
    )


def _challenge_hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _descriptor(record: PasskeyRecord) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in record.transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(record.id), transports=transports or None
    )


class PasskeyService:
    """The passkey ceremonies over ``store`` (credentials and challenges), ``users`` (the
    account a discoverable passkey names), ``counters`` (per-address limits) and ``tokens``
    (step-up access tokens). ``sign_in`` is the accounts' :class:`SignInUser` (None: passkeys
    step up and are managed, but sign no one in). ``signin_enabled`` is ``PASSKEY_SIGNIN``.
    ``lifecycle`` ends the user's other sessions when a passkey is registered or revoked (a
    security event, as a password change is); the caller's session stays."""

    def __init__(
        self,
        store: PasskeyStore,
        users: UserStore,
        *,
        rp_id: str,
        rp_name: str,
        origins: Sequence[str],
        tokens: TokenService,
        counters: CounterStore,
        sign_in: SignInUser | None = None,
        signin_enabled: bool = False,
        max_per_address: int = 30,
        address_window: float = 60.0,
        challenge_ttl: int = CHALLENGE_TTL,
        lifecycle: SessionLifecycle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not origins:
            raise ConfigurationError("passkeys need at least one origin")
        self.store = store
        self.users = users
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = list(origins)
        self.tokens = tokens
        self.counters = counters
        self.sign_in_user = sign_in
        self.signin_enabled = signin_enabled
        self.max_per_address = max_per_address
        self.address_window = address_window
        self.challenge_ttl = challenge_ttl
        self.lifecycle = lifecycle
        self._clock = clock

    # --- limits and challenges ----------------------------------------------------------------

    async def _limit(self, kind: str, address: str | None) -> None:
        if address is None:
            return
        now = self._clock()
        reservation = await self.counters.reserve(
            f"passkey-{kind}-address:{address}",
            limit=self.max_per_address,
            window=self.address_window,
            now=now,
        )
        if not reservation.granted:
            raise RateLimitError(
                "Too many passkey attempts from this address.",
                retry_after=reservation.reset_at - now,
            )

    async def _remember(self, challenge: bytes, purpose: str, user_id: str | None) -> None:
        now = self._clock()
        await self.store.add_passkey_challenge(
            _challenge_hash(challenge),
            purpose=purpose,
            user_id=user_id,
            expires_at=now + self.challenge_ttl,
            now=now,
        )

    async def _consume(self, client_data: bytes, purpose: str, user_id: str | None) -> bytes:
        """The challenge the client signed, once it is consumed (it was ours, for ``purpose``
        and ``user_id``, unexpired and unused); PasskeyError otherwise."""
        try:
            challenge = parse_client_data_json(client_data).challenge
        except _UNREADABLE:
            raise PasskeyError(_FAILED) from None
        if not await self.store.consume_passkey_challenge(
            _challenge_hash(challenge), purpose=purpose, user_id=user_id, now=self._clock()
        ):
            raise PasskeyError(
                "The passkey challenge is unknown, used, expired or someone else's: "
                "start again with new options."
            )
        return challenge

    @staticmethod
    def _user_handle(user_id: str) -> bytes:
        handle = user_id.encode("utf-8")
        if not 0 < len(handle) <= MAX_USER_HANDLE_BYTES:
            raise PasskeyInputError(
                f"this account's id is longer than the {MAX_USER_HANDLE_BYTES} bytes a passkey "
                "can name"
            )
        return handle

    # --- registration -------------------------------------------------------------------------

    async def registration_options(
        self, who: Principal, *, address: str | None = None
    ) -> dict[str, Any]:
        """``PublicKeyCredentialCreationOptions`` (as JSON) for ``who`` to register a passkey."""
        await self._limit("options", address)
        handle = self._user_handle(who.subject)
        existing = await self.store.list_passkeys(who.subject)
        if len(existing) >= MAX_PASSKEYS_PER_USER:
            raise PasskeyInputError(
                f"this account has {MAX_PASSKEYS_PER_USER} passkeys, the most it may have: "
                "revoke one first"
            )
        name = who.email or who.subject
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=name,
            user_id=handle,
            user_display_name=name,
            timeout=self.challenge_ttl * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(p) for p in existing],
        )
        await self._remember(options.challenge, "register", who.subject)
        return dict(_json(options_to_json(options)))

    async def register(
        self,
        who: Principal,
        credential: Mapping[str, Any],
        *,
        name: str | None = None,
        address: str | None = None,
    ) -> PasskeyView:
        """Verify ``credential`` (what ``navigator.credentials.create()`` returned, as JSON)
        against a challenge made for ``who`` and store the passkey; ``who``'s other sessions
        end (their own, ``who.session_id``, stays)."""
        await self._limit("verify", address)
        try:
            parsed: RegistrationCredential = parse_registration_credential_json(dict(credential))
        except _UNREADABLE:
            raise PasskeyInputError("the credential is not a WebAuthn registration") from None
        challenge = await self._consume(
            bytes(parsed.response.client_data_json), "register", who.subject
        )
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                require_user_verification=True,
            )
        except _UNREADABLE as exc:
            _log.info("tokenward: a passkey registration failed: %s", exc)
            raise PasskeyError(_FAILED) from None
        now = self._clock()
        count = len(await self.store.list_passkeys(who.subject))
        transports = tuple(
            t.value for t in (parsed.response.transports or []) if t.value in _TRANSPORTS
        )
        record = PasskeyRecord(
            id=bytes_to_base64url(verified.credential_id),
            user_id=who.subject,
            public_key=bytes(verified.credential_public_key),
            sign_count=verified.sign_count,
            name=(name or "").strip()[:MAX_PASSKEY_NAME] or f"Passkey {count + 1}",
            created_at=now,
            transports=transports[:8],
            aaguid=verified.aaguid,
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
        )
        try:
            await self.store.add_passkey(record)
        except DuplicateKeyError:
            raise PasskeyInputError("this passkey is registered already") from None
        await self._end_sessions(who.subject, who.session_id)
        return _view(record)

    # --- management ---------------------------------------------------------------------------

    async def list(self, user_id: str) -> list[PasskeyView]:
        return [_view(p) for p in await self.store.list_passkeys(user_id)]

    async def rename(self, user_id: str, credential_id: str, name: str) -> bool:
        """Rename one of the user's passkeys; False when they have none with this id."""
        name = name.strip()
        if not 0 < len(name) <= MAX_PASSKEY_NAME:
            raise PasskeyInputError(f"a passkey's name is 1 to {MAX_PASSKEY_NAME} characters")
        return await self.store.rename_passkey(credential_id, user_id=user_id, name=name)

    async def revoke(
        self, user_id: str, credential_id: str, *, keep_session: str | None = None
    ) -> bool:
        """Revoke one of the user's passkeys and end their sessions but ``keep_session`` (the
        caller's); False (nothing ended) when they have none with this id."""
        done = await self.store.revoke_passkey(credential_id, user_id=user_id)
        if done:
            await self._end_sessions(user_id, keep_session)
        return done

    async def reset(self, user_id: str) -> int:
        """An operator's reset (a lost or stolen device): every passkey of the user is removed
        and every session of the user ends. Returns how many passkeys there were."""
        removed = await self.store.delete_passkeys(user_id)
        await self._end_sessions(user_id, None)
        if removed:
            _log.warning("tokenward: %d passkey(s) of user %s removed", removed, user_id)
        return removed

    async def _end_sessions(self, user_id: str, keep_session: str | None) -> None:
        if self.lifecycle is not None:
            await self.lifecycle.end_others(user_id, keep_session)

    # --- authentication -----------------------------------------------------------------------

    async def authentication_options(
        self, who: Principal | None, *, address: str | None = None
    ) -> dict[str, Any]:
        """``PublicKeyCredentialRequestOptions`` (as JSON): a step-up for ``who`` (their
        passkeys allowed), or with nobody signed in a sign-in with a discoverable passkey
        (``PASSKEY_SIGNIN``; NotAuthenticatedError without it)."""
        if who is None and not self.signin_enabled:
            raise NotAuthenticatedError(
                "passkeys step up a signed-in session here (PASSKEY_SIGNIN is off)"
            )
        await self._limit("options", address)
        allowed: list[PublicKeyCredentialDescriptor] = []
        if who is not None:
            mine = await self.store.list_passkeys(who.subject)
            if not mine:
                raise PasskeyInputError("this account has no passkey: register one first")
            allowed = [_descriptor(p) for p in mine]
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=self.challenge_ttl * 1000,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        await self._remember(
            options.challenge, "authenticate", None if who is None else who.subject
        )
        return dict(_json(options_to_json(options)))

    async def _assert(self, credential: Mapping[str, Any], user_id: str | None) -> PasskeyRecord:
        """The passkey that signed ``credential`` (``navigator.credentials.get()``'s JSON) over
        a challenge made for ``user_id`` (None: a sign-in), after every check, its counter
        stored; PasskeyError otherwise."""
        try:
            parsed: AuthenticationCredential = parse_authentication_credential_json(
                dict(credential)
            )
        except _UNREADABLE:
            raise PasskeyInputError("the credential is not a WebAuthn assertion") from None
        challenge = await self._consume(
            bytes(parsed.response.client_data_json), "authenticate", user_id
        )
        record = await self.store.get_passkey(parsed.id)
        handle = parsed.response.user_handle
        if (
            record is None
            or (user_id is not None and record.user_id != user_id)
            or (handle is not None and bytes(handle) != record.user_id.encode("utf-8"))
        ):
            raise PasskeyError("This passkey is not known here (revoked, or another site's).")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                credential_public_key=record.public_key,
                credential_current_sign_count=record.sign_count,
                require_user_verification=True,
            )
        except _UNREADABLE as exc:
            _log.info("tokenward: a passkey assertion for %r failed: %s", record.user_id, exc)
            raise PasskeyError(_FAILED) from None
        if not await self.store.use_passkey(
            record.id,
            sign_count=verified.new_sign_count,
            now=self._clock(),
            backed_up=verified.credential_backed_up,
        ):
            _log.warning(
                "tokenward: passkey %s of %r presented a counter that did not move forward "
                "(a cloned authenticator, or a replay)",
                record.id[:16],
                record.user_id,
            )
            raise PasskeyError(_FAILED)
        return record

    async def sign_in(
        self,
        credential: Mapping[str, Any],
        *,
        client: ClientInfo | None = None,
        scope: str | None = None,
    ) -> TokenPair:
        """``PASSKEY_SIGNIN``: a session for the account the passkey belongs to, started through
        the accounts' SignInUser with ``amr`` ``("webauthn",)``."""
        if not self.signin_enabled:
            raise NotAuthenticatedError(
                "passkeys step up a signed-in session here (PASSKEY_SIGNIN is off)"
            )
        await self._limit("verify", None if client is None else client.address)
        record = await self._assert(credential, None)
        user = await self.users.get_user(record.user_id)
        if user is None or user.disabled:
            raise PasskeyError("This passkey's account cannot sign in.")
        if self.sign_in_user is None:
            raise ConfigurationError("passkey sign-in needs the accounts' SignInUser")
        return await self.sign_in_user(user, client=client, scope=scope, amr=(AMR,))

    async def step_up(
        self, who: Principal, credential: Mapping[str, Any], *, address: str | None = None
    ) -> str:
        """A fresh access token for ``who`` in the same session after one of their passkeys
        signed the challenge: ``amr`` gains ``webauthn`` and ``mfa_time`` is now (what
        ``require_fresh_mfa`` checks). Its refreshes keep what the session's sign-in recorded."""
        await self._limit("verify", address)
        await self._assert(credential, who.subject)
        return await self.tokens.step_up(who, list(dict.fromkeys([*_amr(who), AMR])))


def _amr(who: Principal) -> list[str]:
    found = who.claims.get("amr")
    return [m for m in found if isinstance(m, str)] if isinstance(found, list | tuple) else []


def _json(text: str) -> Mapping[str, Any]:
    data = json.loads(text)
    assert isinstance(data, dict)
    return data
