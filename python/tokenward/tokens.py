"""Tokens of the custom (debug) provider, and refresh-token rotation over a store.

The cryptography lives in the native core. Access tokens are JWTs with header ``typ: at+jwt``
and claim ``token_use: access``, made by an :class:`AccessTokenIssuer`: :class:`DebugAccessTokens`
(HS256 under the app's secret, :class:`tokenward._core.DebugTokens`, the default) or
:class:`RingAccessTokens` (RS256, PS256, ES256 or EdDSA through a :class:`~tokenward.KeyRing`,
whose public keys other services fetch). Refresh tokens are ``twr_`` plus 256 random bits,
stored only as an HMAC (always ``DebugTokens``). This module adds the session logic:

* a login starts a *family* of refresh tokens;
* a refresh spends the presented token and issues a new pair (rotation);
* presenting a spent token again revokes the whole family (reuse detection), except within a
  short grace window, where a duplicate of the same refresh gets the very same new pair, so two
  tabs refreshing at once do not sign the user out.

Those two decisions (rotation and reuse detection) are made in :mod:`tokenward.rotation`, once
for every store; a store only spends a token atomically.

A family is a *session*: the store records when it started and was last refreshed, and the
client's address and user agent at the login (:class:`ClientInfo`). Access tokens carry the
session's id as ``sid``. A user can list their sessions and end them; at most ``max_sessions``
live sessions per user, a new login past it ending the oldest. Every session that ends here ends
through the service's :class:`~tokenward.sessions.SessionLifecycle`, which tells its listeners
(the access-token session check) at once.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tokenward._core import DebugTokens, FieldCipher
from tokenward.exceptions import (
    ConfigurationError,
    InvalidSignatureError,
    RefreshTokenError,
)
from tokenward.principal import SECOND_FACTORS, Principal, split_scopes
from tokenward.rotation import RefreshRotation
from tokenward.sessions import SessionLifecycle
from tokenward.stores import RefreshSession, SessionInfo, Store

if TYPE_CHECKING:
    from tokenward.keyring import KeyRing

__all__ = [
    "AccessTokenIssuer",
    "ClientInfo",
    "DebugAccessTokens",
    "DebugTokens",
    "ExtraClaims",
    "RefreshTokenError",
    "Reidentify",
    "RingAccessTokens",
    "TokenPair",
    "TokenService",
    "device_name",
    "session_amr",
    "split_scopes",
]

MAX_USER_AGENT_CHARS = 512
DEFAULT_MAX_SESSIONS = 50


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a login came from, as the transport saw it."""

    address: str | None = None
    user_agent: str | None = None


_BROWSERS = (  # the order matters: Edge and Opera also say Chrome, Chrome also says Safari
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-httpx/", "httpx"),
    ("python-requests/", "requests"),
    ("PostmanRuntime/", "Postman"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def device_name(user_agent: str | None) -> str:
    """A readable device name from a User-Agent header: "Firefox on Linux", "curl"."""
    if not user_agent:
        return "unknown device"
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return str(browser or system)
    first = _PRINTABLE.sub("", user_agent.split(" ", 1)[0].split("/", 1)[0])[:40]
    return first or "unknown device"


_log = logging.getLogger("tokenward")


def _principal(session: RefreshSession) -> Principal:
    """The user a refresh session speaks for, as its access tokens describe it."""
    data = session.identity
    email = data.get("email")
    amr = _strings(data.get("amr"))
    return Principal(
        subject=session.subject,
        credential_type="access_token",
        email=email if isinstance(email, str) else None,
        groups=_strings(data.get("groups")),
        scopes=_strings(data.get("scopes")),
        claims={"amr": list(amr)} if amr else {},
    )


def _identity_json(who: Principal, requested_scope: str | None) -> dict[str, Any]:
    """What a session keeps of its user, copied along the family (and the scopes the login
    asked for, so a refresh can grant them again under the settings of the day)."""
    kept: dict[str, Any] = {
        "email": who.email,
        "groups": list(who.groups),
        "scopes": list(who.scopes),
    }
    if requested_scope is not None:
        kept["requested_scope"] = requested_scope
    amr = session_amr(who)
    if amr:  # an account's session (tokenward.accounts): how the user proved who they are
        kept["amr"] = list(amr)
    return kept


def _sign_in_claims(amr: Sequence[str] | None, now: float) -> dict[str, Any]:
    """What a sign-in adds to its session's access tokens: ``amr`` (how the user proved who
    they are) and, when it names a second factor (:data:`SECOND_FACTORS`), ``mfa_time``: the
    time of that factor, which ``require_fresh_mfa`` compares with its ``max_age``."""
    if amr is None:
        return {}
    methods = [m for m in dict.fromkeys(amr) if isinstance(m, str) and m]
    kept: dict[str, Any] = {"amr": methods}
    if SECOND_FACTORS.intersection(methods):
        kept["mfa_time"] = int(now)
    return kept


def _kept_sign_in(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The sign-in claims a session recorded (a refresh keeps them: ``mfa_time`` stays the time
    of the factor, not of the refresh)."""
    kept: dict[str, Any] = {}
    amr = identity.get("amr")
    if isinstance(amr, list):
        kept["amr"] = [m for m in amr if isinstance(m, str)]
    when = identity.get("mfa_time")
    if isinstance(when, int) and not isinstance(when, bool):
        kept["mfa_time"] = when
    return kept


def session_amr(who: Principal) -> tuple[str, ...]:
    """The ``amr`` a session of ``who`` keeps (an account's sign-in put it in
    ``who.claims["amr"]``; kept in the session's identity JSON, so every refresh carries it)."""
    return _strings(who.claims.get("amr"))


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


ACCESS_TOKEN_TYP = "at+jwt"
MAX_EXTRA_CLAIMS_BYTES = 4096  # the native DebugTokens' bound too (kMaxExtraClaimsBytes)

Reidentify = Callable[[Principal, str | None], "Principal | Awaitable[Principal | None] | None"]
"""``(who, requested_scope) -> Principal``: the user a refresh mints for (sync or async); None
when that user may no longer have a session (disabled, deleted): the refresh is refused and the
session ends."""

ExtraClaims = Callable[[Principal], Awaitable[Mapping[str, Any] | None]]
"""``async (who) -> claims``: claims of the app's own to add to ``who``'s access tokens at a
login and at each refresh (None or an empty mapping: none)."""


def _check_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Extra access-token claims as a plain dict: ConfigurationError for a name the token sets
    itself (:meth:`DebugTokens.is_reserved_claim`, the same list as the native issuer) or more
    than MAX_EXTRA_CLAIMS_BYTES of JSON."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise TypeError("extra must be a mapping of claim names to JSON values")
    out: dict[str, Any] = {}
    for name, value in extra.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError("an extra claim needs a non-empty name")
        if DebugTokens.is_reserved_claim(name):
            raise ConfigurationError(
                f"the claim {name!r} is reserved: an access token sets it itself"
            )
        out[name] = value
    try:
        text = json.dumps(out, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode())
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) included
        raise ConfigurationError(f"extra claims must be JSON values: {exc}") from None
    if size > MAX_EXTRA_CLAIMS_BYTES:
        raise ConfigurationError(
            f"the extra claims take {size} bytes as JSON, more than {MAX_EXTRA_CLAIMS_BYTES}"
        )
    return out


_ACCESS_CLAIMS = ("exp", "iat", "sub", "jti", "token_use")
_MAX_LIFETIME = 10 * 366 * 24 * 3600
_MAX_TIME = 1 << 40


@runtime_checkable
class AccessTokenIssuer(Protocol):
    """Makes and checks the custom provider's access tokens; :class:`TokenService` does not care
    how. ``issue`` signs the claims of ``who`` (``iss``, ``sub``, ``email``, ``cognito:groups``,
    ``scope``, ``iat``, ``exp = iat + lifetime``, ``jti``, ``sid``, ``token_use: access``) and
    the ``extra`` claims (ConfigurationError for a name among those or a registered one);
    ``verify`` returns them for a valid token (header ``typ: at+jwt``; ``iss``, ``exp``, ``iat``,
    ``sub``, ``jti`` and ``token_use == "access"`` checked) or raises
    :class:`~tokenward.InvalidTokenError`. An issuer may also have ``check(token, *, now)``:
    ``verify`` without building the claims (:meth:`TokenService.check_access` uses it when it
    is there)."""

    @property
    def algorithm(self) -> str: ...

    def issue(
        self,
        who: Principal,
        *,
        iat: int,
        lifetime: int,
        jti: str | None,
        sid: str | None,
        extra: Mapping[str, Any] | None = None,
    ) -> str: ...

    def verify(self, token: str | bytes, *, now: float) -> dict[str, Any]: ...


class DebugAccessTokens:
    """HS256 access tokens under the app's secret: the native ``DebugTokens``, as before.

    ``previous`` (``DebugTokens`` under each ``AUTH_SECRET_PREVIOUS``) check a token whose
    signature the current secret refuses, so the tokens signed before a rotation keep working
    until they expire; new tokens are signed under the current secret only."""

    algorithm = "HS256"

    def __init__(self, tokens: DebugTokens, previous: Sequence[DebugTokens] = ()) -> None:
        self.tokens = tokens
        self.previous = tuple(previous)
        if self.previous:
            self.verify = self._verify_any
            self.check = self._check_any
            return
        # verify(token, now=...) and check(...) are the native calls themselves: no Python
        # frame between.
        self.verify = tokens.verify_access
        self.check = tokens.check_access

    def _verify_any(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """The claims under the first secret whose signature matches (current first)."""
        try:
            return self.tokens.verify_access(token, now=now)
        except InvalidSignatureError:
            for old in self.previous[:-1]:
                try:
                    return old.verify_access(token, now=now)
                except InvalidSignatureError:
                    continue
            return self.previous[-1].verify_access(token, now=now)

    def _check_any(self, token: str | bytes, *, now: float | None = None) -> None:
        """:meth:`_verify_any` without the claims (the current secret's cache still serves)."""
        try:
            self.tokens.check_access(token, now=now)
        except InvalidSignatureError:
            for old in self.previous[:-1]:
                try:
                    old.check_access(token, now=now)
                    return
                except InvalidSignatureError:
                    continue
            self.previous[-1].check_access(token, now=now)

    def issue(
        self,
        who: Principal,
        *,
        iat: int,
        lifetime: int,
        jti: str | None,
        sid: str | None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        return self.tokens.issue_access(
            who.subject,
            email=who.email,
            groups=who.groups,
            scopes=who.scopes,
            lifetime=lifetime,
            iat=iat,
            jti=jti,
            sid=sid,
            extra=extra or None,
        )

    verify: Callable[..., dict[str, Any]]
    """``verify(token, *, now)``: the claims of a valid access token."""
    check: Callable[..., None]
    """``check(token, *, now)``: ``verify`` without the claims (a cached token costs a look-up)."""


class RingAccessTokens:
    """Access tokens signed by the current key of a :class:`~tokenward.KeyRing` (header
    ``typ: at+jwt`` and the key's ``kid``), checked by a Verifier over the ring, so a rotation is
    seen at once. ``issuer`` is the ``iss``; ``cache_size`` the verified-token cache;
    ``field_cipher`` encrypts every claim but the registered ones (``iss``, ``sub``, ``iat``,
    ``exp``, ``jti``) and is needed by every verifier too."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str,
        leeway: float = 0.0,
        cache_size: int = 0,
        field_cipher: FieldCipher | None = None,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("the issuer must be a non-empty string")
        self.ring = ring
        self.issuer = issuer
        self.field_cipher = field_cipher
        self.verifier = ring.verifier(
            issuer=issuer,
            leeway=leeway,
            require=list(_ACCESS_CLAIMS),
            typ=ACCESS_TOKEN_TYP,
            field_cipher=field_cipher,
            cache_size=cache_size,
            access_token=True,  # the claims rules of DebugTokens.verify_access, in the core
        )

    def __repr__(self) -> str:
        return f"<RingAccessTokens {self.ring!r} issuer={self.issuer!r}>"

    @property
    def algorithm(self) -> str:
        return self.ring.algorithm

    def issue(
        self,
        who: Principal,
        *,
        iat: int,
        lifetime: int,
        jti: str | None,
        sid: str | None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        added = _check_extra(extra)
        if not who.subject:
            raise ConfigurationError("an access token needs a subject")
        if not 0 < lifetime <= _MAX_LIFETIME:
            raise ConfigurationError(
                "the access token lifetime must be between 1 second and 10 years"
            )
        if not 0 <= iat <= _MAX_TIME:
            raise ConfigurationError("the issue time is out of range")
        claims: dict[str, Any] = {"iss": self.issuer, "sub": who.subject}
        if who.email:
            claims["email"] = who.email
        claims["cognito:groups"] = list(who.groups)
        claims["scope"] = " ".join(who.scopes)
        claims["iat"] = iat
        claims["exp"] = iat + lifetime
        claims["jti"] = jti if jti else DebugTokens.random_id(16)
        if sid:
            claims["sid"] = sid
        claims["token_use"] = "access"
        claims.update(added)
        if self.field_cipher is not None:
            claims = self.field_cipher.encrypt_claims(claims)
        return self.ring.sign(claims, {"typ": ACCESS_TOKEN_TYP})

    def verify(self, token: str | bytes, *, now: float) -> dict[str, Any]:
        return self.verifier.verify(token, now=now)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


class TokenService:
    """Issues, verifies and rotates the custom provider's tokens.

    ``access_lifetime`` and ``refresh_lifetime`` are in seconds; each refresh token lives
    ``refresh_lifetime`` from its own issue (a sliding window). ``reuse_grace`` is how long after a
    rotation a duplicate of the same refresh token still gets the same new pair (strictly less
    than that long, measured once the store has answered; 0: no duplicate ever does).
    ``max_sessions`` bounds the live sessions of one user. ``reidentify`` (optional) gives the
    user a refresh mints for, from what the session recorded and the scope its login asked for:
    the custom provider re-reads the debug user's groups and scopes from the settings there.
    ``access`` makes the access tokens (HS256 through ``tokens`` when None); ``tokens`` always
    makes the refresh tokens and their hashes; ``previous`` (``DebugTokens`` under each
    ``AUTH_SECRET_PREVIOUS``) find a refresh token stored before a secret rotation, whose
    successor is then hashed under the current secret. ``lifecycle`` is the
    :class:`~tokenward.sessions.SessionLifecycle` every session this service ends goes through
    (logout, reuse detection, the user's own ending of sessions, the ``max_sessions`` cap), so
    that its listeners hear of each at once; one over ``store`` with nobody listening when None.
    ``extra_claims`` (optional, :data:`ExtraClaims`) gives claims of the app's own for the user
    a login or a refresh mints for (the access set of ``ACCESS_SET_IN_TOKEN``, say); it is
    asked again at every refresh, a duplicate inside the grace window included, so the new
    access token carries what is current then (the same bytes as the first answer while the
    claims have not changed).
    """

    def __init__(
        self,
        tokens: DebugTokens,
        store: Store,
        *,
        access: AccessTokenIssuer | None = None,
        access_lifetime: int = 15 * 60,
        refresh_lifetime: int = 7 * 24 * 3600,
        reuse_grace: float = 10.0,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        reidentify: Reidentify | None = None,
        lifecycle: SessionLifecycle | None = None,
        clock: Callable[[], float] = time.time,
        previous: Sequence[DebugTokens] = (),
        extra_claims: ExtraClaims | None = None,
    ) -> None:
        if access_lifetime <= 0 or refresh_lifetime <= 0:
            raise ConfigurationError("token lifetimes must be positive")
        if reuse_grace < 0:
            raise ConfigurationError("the refresh reuse grace window must not be negative")
        self.tokens = tokens
        # AUTH_SECRET_PREVIOUS: refresh tokens hashed under an older secret are still found.
        self.previous = tuple(previous)
        self.access = DebugAccessTokens(tokens, self.previous) if access is None else access
        self.store = store
        self.access_lifetime = int(access_lifetime)
        self.refresh_lifetime = int(refresh_lifetime)
        if max_sessions < 1:
            raise ConfigurationError("max_sessions must be at least 1")
        self.max_sessions = int(max_sessions)
        self.reidentify = reidentify
        if lifecycle is not None and lifecycle.store is not store:
            raise ConfigurationError("the session life cycle must work on the service's store")
        self.lifecycle = SessionLifecycle(store, clock=clock) if lifecycle is None else lifecycle
        self.rotation = RefreshRotation(self.lifecycle, reuse_grace=reuse_grace, clock=clock)
        self._clock = clock
        self.extra_claims = extra_claims

    @property
    def reuse_grace(self) -> float:
        """The refresh reuse grace window in seconds (the rotation's, see
        :mod:`tokenward.rotation`)."""
        return self.rotation.reuse_grace

    # --- access tokens ------------------------------------------------------------------------

    def issue_access(
        self,
        who: Principal,
        *,
        iat: int | None = None,
        jti: str | None = None,
        sid: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """An access token for ``who`` with ``extra`` claims (see :class:`AccessTokenIssuer`);
        :meth:`start` and :meth:`refresh` pass what ``extra_claims`` gives."""
        return self._access.issue(
            who,
            iat=int(self._clock()) if iat is None else iat,
            lifetime=self.access_lifetime,
            jti=jti,
            sid=sid if sid is not None else who.session_id,
            extra=extra or None,
        )

    async def step_up(self, who: Principal, amr: Sequence[str]) -> str:
        """A fresh access token for ``who`` (the user of a valid access token, in its session)
        right after a second factor: ``amr`` and ``mfa_time`` = now. Its session's refreshes
        keep what the session's sign-in recorded, so the step-up's freshness ends with this
        token."""
        now = self._clock()
        extra = {**(await self._extra(who) or {}), **_sign_in_claims(amr, now)}
        return self.issue_access(who, iat=int(now), sid=who.session_id, extra=extra)

    async def _extra(self, who: Principal) -> Mapping[str, Any] | None:
        return None if self.extra_claims is None else await self.extra_claims(who)

    def verify_access(self, token: str | bytes) -> dict[str, Any]:
        """The claims of a valid access token; :class:`InvalidTokenError` otherwise."""
        return self._access.verify(token, now=self._clock())

    def check_access(self, token: str | bytes) -> None:
        """:meth:`verify_access` without the claims: for a caller that kept what it made of
        them (the providers' PrincipalMemo). The same errors for a token that is not valid."""
        self._check(token, now=self._clock())

    @property
    def access(self) -> AccessTokenIssuer:
        """What makes and checks the access tokens (replaceable: the issuer's key ring)."""
        return self._access

    @access.setter
    def access(self, issuer: AccessTokenIssuer) -> None:
        self._access = issuer
        check = getattr(issuer, "check", None)
        self._check: Callable[..., Any] = check if callable(check) else issuer.verify

    # --- sessions -----------------------------------------------------------------------------

    async def start(
        self,
        who: Principal,
        *,
        client: ClientInfo | None = None,
        requested_scope: str | None = None,
        amr: Sequence[str] | None = None,
    ) -> TokenPair:
        """A login: a new session (refresh-token family) and a first pair. The user's oldest
        live sessions beyond ``max_sessions`` end in the same transaction. ``amr`` (how the
        user proved who they are) goes into the session's access tokens, with ``mfa_time`` =
        now when it names a second factor; the session keeps both for its refreshes."""
        extra = await self._extra(who)  # before the session starts: a failure starts none
        now = self._clock()
        signed_in = _sign_in_claims(amr, now)
        if signed_in:
            extra = {**(extra or {}), **signed_in}
        refresh = DebugTokens.new_refresh_token()
        family = DebugTokens.random_id(16)
        agent = client.user_agent if client is not None else None
        first = RefreshSession(
            token_hash=self.tokens.refresh_token_hash(refresh),
            family_id=family,
            subject=who.subject,
            identity={**_identity_json(who, requested_scope), **signed_in},
            issued_at=now,
            expires_at=now + self.refresh_lifetime,
        )
        info = SessionInfo(
            id=family,
            subject=who.subject,
            started_at=now,
            last_used_at=now,
            client_address=client.address if client is not None else None,
            user_agent=agent[:MAX_USER_AGENT_CHARS] if agent else None,
            expires_at=first.expires_at,
        )
        ended = await self.store.start_session(info, first, max_sessions=self.max_sessions, now=now)
        if ended:
            _log.info(
                "tokenward: %d session(s) of %r ended: more than %d live sessions",
                len(ended),
                who.subject,
                self.max_sessions,
            )
            self.lifecycle.ended(ended)
        return TokenPair(
            self.issue_access(who, iat=int(now), sid=family, extra=extra),
            refresh,
            self.access_lifetime,
        )

    async def _who(self, session: RefreshSession) -> Principal:
        who: Principal | None = _principal(session)
        if self.reidentify is not None and who is not None:
            requested = session.identity.get("requested_scope")
            found = self.reidentify(who, requested if isinstance(requested, str) else None)
            who = await found if inspect.isawaitable(found) else found
        if who is None:  # disabled or deleted since the login: the session ends here
            await self.lifecycle.end_family(session.family_id)
            raise RefreshTokenError("revoked", "the user may no longer sign in")
        return who

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: spend ``refresh_token`` and return a new pair, or raise RefreshTokenError."""
        if not DebugTokens.is_refresh_token(refresh_token):
            raise RefreshTokenError("malformed", "not a refresh token")
        now = self._clock()
        token_hash = self.tokens.refresh_token_hash(refresh_token)
        successor = self.tokens.successor_refresh_token(refresh_token)
        successor_hash = self.tokens.refresh_token_hash(successor)
        jti = DebugTokens.random_id(16)
        # The current secret's hash first, then each previous secret's (AUTH_SECRET_PREVIOUS).
        candidates = (token_hash, *(t.refresh_token_hash(refresh_token) for t in self.previous))
        for index, candidate in enumerate(candidates):
            try:
                rotation = await self.rotation.refresh(
                    candidate,
                    successor_hash=successor_hash,
                    successor_jti=jti,
                    now=now,
                    expires_at=now + self.refresh_lifetime,
                )
                break
            except RefreshTokenError as exc:
                if exc.reason != "unknown" or index == len(candidates) - 1:
                    raise
        session = rotation.session
        iat = int(rotation.issued_at)
        who = await self._who(session)
        extra = await self._extra(who)
        kept = _kept_sign_in(session.identity)
        if kept:
            extra = {**(extra or {}), **kept}
        access = self.issue_access(
            who, iat=iat, jti=rotation.jti, sid=session.family_id, extra=extra
        )
        if rotation.duplicate:  # the pair of the rotation it duplicates, as it was then
            expires_in = max(0, iat + self.access_lifetime - int(rotation.seen_at))
        else:
            expires_in = self.access_lifetime
        return TokenPair(access, successor, expires_in)

    async def revoke(self, refresh_token: str) -> bool:
        """Logout: revoke the family of ``refresh_token``. False when the token is not known."""
        return await self.end_session_of(refresh_token) is not None

    async def end_session_of(self, refresh_token: str) -> str | None:
        """Logout: revoke the family of ``refresh_token`` and return its session id; None when
        the token is not known."""
        if not DebugTokens.is_refresh_token(refresh_token):
            return None
        for tokens in (self.tokens, *self.previous):
            session = await self.store.get_refresh_session(tokens.refresh_token_hash(refresh_token))
            if session is not None:
                break
        if session is None:
            return None
        await self.lifecycle.end_family(session.family_id)
        return session.family_id

    # --- what a user sees of their sessions ----------------------------------------------------

    async def sessions(self, subject: str) -> list[SessionInfo]:
        """The subject's live sessions, newest first."""
        return await self.store.list_sessions(subject, now=self._clock())

    async def end_session(self, subject: str, session_id: str) -> bool:
        """End one of the subject's sessions (its refresh token is useless at once); False when
        it has no such live session."""
        return await self.lifecycle.end(subject, session_id)

    async def end_other_sessions(self, subject: str, keep: str | None) -> int:
        """End every live session of the subject but ``keep``; returns how many."""
        return await self.lifecycle.end_others(subject, keep)

    async def session_is_live(self, session_id: str) -> bool:
        """Whether the session exists and is neither revoked nor past its last token's expiry."""
        return await self.lifecycle.is_live(session_id)
