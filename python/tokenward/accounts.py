"""Accounts of the custom provider: sign-up, password sign-in, e-mail verification, password
reset and change, and what an admin does (create, disable, groups, a reset link).

Framework-free. :class:`Accounts` works over collaborators it is handed (the service graph,
:mod:`tokenward.services`, builds it from the settings):

* a :class:`~tokenward.stores.UserStore` (the accounts and their single-use tokens);
* a :class:`~tokenward.passwords.PasswordHasher` and a :class:`~tokenward.passwords.PasswordPolicy`;
* a :class:`~tokenward.mail.Mailer` (None: nothing can send mail);
* the :class:`~tokenward.ratelimit.LoginLimiter` (the login lock-out, and the account limits
  through its atomic :meth:`~tokenward.ratelimit.LoginLimiter.reserve`);
* a :class:`~tokenward.signin.SignInUser`, which starts the session once a user is proven;
* a :class:`~tokenward.sessions.SessionLifecycle`, through which a reset, a password change or
  disabling a user ends sessions;
* optionally a :class:`~tokenward.signin.SecondFactorGate`, asked after a right password.

What it never tells a caller who does not already know the password: whether an e-mail has an
account. An unknown e-mail costs the same Argon2 work as a wrong password
(:meth:`PasswordHasher.verify_dummy`); a disabled account is refused like a wrong password, after
the same verification; an unverified e-mail is named only after the password checked out.

Verification and reset tokens are :class:`~tokenward.passwords.OneTimeTokens` (made and hashed
in C++, 256 random bits); the store keeps their HMAC only, with a TTL, and consumes each once
(atomically, :meth:`UserStore.consume_user_token`). See docs/accounts.md.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from tokenward._core import DebugTokens
from tokenward.access import ACCESS_SET_CLAIM
from tokenward.exceptions import (
    AccountTokenError,
    ConfigurationError,
    DuplicateUserError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    MalformedTokenError,
    PasswordHashError,
    SignUpClosedError,
    SignUpFieldError,
)
from tokenward.mail import Mailer, MailKind, OnSend
from tokenward.passwords import OneTimeTokens, PasswordHasher, PasswordPolicy
from tokenward.principal import Principal
from tokenward.stores.base import AttributeValue, UserRecord, UserStore
from tokenward.users import normalize_email

if TYPE_CHECKING:
    from tokenward.ratelimit import LoginLimiter
    from tokenward.sessions import SessionLifecycle
    from tokenward.settings import AuthSettings
    from tokenward.signin import SecondFactorGate, SignInUser
    from tokenward.tokens import ClientInfo, TokenPair

__all__ = [
    "ACCOUNT_CLAIMS",
    "SERVER_ONLY_FIELDS",
    "AccountOptions",
    "Accounts",
    "LoginResult",
    "MfaRequired",
    "OnSend",
    "PasswordLogin",
    "SignUpResult",
    "UserClaims",
    "account_principal",
    "check_user_claims",
    "password_hasher",
    "password_policy",
]

_log = logging.getLogger("tokenward.accounts")

VERIFY_EMAIL: MailKind = "verify-email"
RESET_PASSWORD: MailKind = "reset-password"

SERVER_ONLY_FIELDS = frozenset({"groups", "roles", "email_verified", "disabled"})
"""Fields no client sets, at sign-up or ever: refused (422), never silently dropped."""

MAX_EMAIL_CHARS = 320
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True, slots=True)
class MfaRequired:
    """What a right password gives when the user has a second factor on: no tokens yet, a
    short-lived ``mfa_token`` for the challenge route, which starts the session with the code."""

    mfa_token: str


@dataclass(frozen=True, slots=True)
class SignUpResult:
    """What a sign-up did. ``user`` is None when the e-mail had an account already and
    ``EMAIL_VERIFICATION=required`` hides that (the answer is the one of a new account);
    ``tokens`` is the first session's pair when the account may sign in at once;
    ``verification`` says whether a verification mail goes (or would go) out."""

    user: UserRecord | None
    tokens: TokenPair | None = None
    verification: bool = False


@dataclass(frozen=True, slots=True)
class AccountOptions:
    """The account settings (``SIGNUP``, ``EMAIL_VERIFICATION``, ...) and the per-route limits
    (Vertz's table: counts per window in seconds)."""

    signup: Literal["open", "closed"] = "closed"
    email_verification: Literal["required", "optional", "off"] = "required"
    revoke_sessions_on_reset: bool = True
    verify_email_ttl: float = 24 * 3600.0
    reset_password_ttl: float = 3600.0
    signup_fields: tuple[str, ...] = ()
    signup_limit: tuple[int, float] = (3, 3600.0)  # per email
    forgot_limit: tuple[int, float] = (3, 3600.0)  # per email
    resend_limit: tuple[int, float] = (3, 3600.0)  # per user
    reset_limit: tuple[int, float] = (5, 900.0)  # per address
    development: bool = False

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> AccountOptions:
        return cls(
            signup=settings.signup,
            email_verification=settings.email_verification,
            revoke_sessions_on_reset=settings.revoke_sessions_on_reset,
            verify_email_ttl=settings.verify_email_ttl.total_seconds(),
            reset_password_ttl=settings.reset_password_ttl.total_seconds(),
            signup_fields=settings.signup_field_names,
            development=settings.is_development,
        )

    @property
    def verification_required(self) -> bool:
        return self.email_verification == "required"


def password_policy(settings: AuthSettings) -> PasswordPolicy:
    """The policy of the ``PASSWORD_*`` settings."""
    return PasswordPolicy(
        min_length=settings.password_min_length,
        max_length=settings.password_max_length,
        require_uppercase=settings.password_require_uppercase,
        require_lowercase=settings.password_require_lowercase,
        require_digit=settings.password_require_digit,
        require_symbol=settings.password_require_symbol,
        reject_common=settings.password_reject_common,
    )


def password_hasher(settings: AuthSettings) -> PasswordHasher:
    """The Argon2id hasher of ``PASSWORD_HASH_PASSES`` and ``PASSWORD_HASH_MEMORY_KIB``."""
    return PasswordHasher(
        opslimit=settings.password_hash_passes, memlimit=settings.password_hash_memory_kib * 1024
    )


class Accounts:
    """The account operations (see the module's text). ``secret`` keys the verification and
    reset tokens' hashes (``AUTH_SECRET``); ``clock`` is every timestamp's source."""

    def __init__(
        self,
        users: UserStore,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        mailer: Mailer | None,
        limiter: LoginLimiter,
        sign_in_user: SignInUser,
        lifecycle: SessionLifecycle,
        secret: bytes,
        options: AccountOptions | None = None,
        gate: SecondFactorGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.policy = policy
        self.mailer = mailer
        self.limiter = limiter
        self.sign_in_user = sign_in_user
        self.lifecycle = lifecycle
        self.options = AccountOptions() if options is None else options
        self.gate = gate
        self._clock = clock
        self._verify_tokens = OneTimeTokens(secret, VERIFY_EMAIL)
        self._reset_tokens = OneTimeTokens(secret, RESET_PASSWORD)
        options = self.options
        if mailer is None and options.signup == "open" and options.email_verification != "off":
            raise ConfigurationError(
                f"SIGNUP=open with EMAIL_VERIFICATION={options.email_verification} sends "
                "verification mail, and nothing can send it: pass Auth(settings, on_send=...) "
                "(or set SMTP_URL), or set EMAIL_VERIFICATION=off"
            )

    def __repr__(self) -> str:
        o = self.options
        return f"<Accounts signup={o.signup} email_verification={o.email_verification}>"

    # --- passwords ----------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        """The policy checked (WeakPasswordError), then the Argon2id hash, on a thread."""
        self.policy.check(password)
        return await asyncio.to_thread(self.hasher.hash, password)

    async def authenticate(self, email: str, password: str) -> UserRecord:
        """The account whose e-mail and password these are, or InvalidCredentialsError (one
        answer and one cost for an unknown e-mail, a wrong password, a disabled account or a
        stored hash that cannot be checked); EmailNotVerifiedError when the password is right
        but ``EMAIL_VERIFICATION=required`` and the e-mail is not verified. Rehashes a hash made
        with older parameters, and records the sign-in. No rate limit here: see
        :meth:`sign_in`."""
        user = await self.users.get_user_by_email(normalize_email(email))
        ok = False
        if user is None or user.password_hash is None:
            await asyncio.to_thread(self.hasher.verify_dummy, password)
        else:
            try:
                ok, new_hash = await asyncio.to_thread(
                    self.hasher.verify_and_update, user.password_hash, password
                )
            except PasswordHashError:
                _log.error("tokenward: the password hash of user %s cannot be checked", user.id)
                ok, new_hash = False, None
            if ok and new_hash is not None:
                now = self._clock()
                user = await self.users.update_user(user.id, now=now, password_hash=new_hash)
        if not ok or user is None or user.disabled:
            raise InvalidCredentialsError("Incorrect email or password.")
        if self.options.verification_required and not user.email_verified:
            raise EmailNotVerifiedError("the e-mail address is not verified yet")
        return user

    async def start(
        self, user: UserRecord, *, client: ClientInfo | None = None, scope: str | None = None
    ) -> TokenPair | MfaRequired:
        """After a right password: :class:`MfaRequired` when the gate says the user has a
        second factor on, else the session (``amr`` ``pwd``)."""
        if self.gate is not None and await self.gate.required(user):
            return MfaRequired(await self.gate.begin(user, client=client, scope=scope))
        return await self.sign_in_user(user, client=client, scope=scope, amr=("pwd",))

    async def sign_in(
        self,
        email: str,
        password: str,
        *,
        scope: str | None = None,
        client: ClientInfo | None = None,
    ) -> TokenPair | MfaRequired:
        """Password sign-in under the login lock-out (``LOGIN_MAX_FAILURES`` per e-mail per
        ``LOGIN_FAILURE_WINDOW``, and per address): :meth:`authenticate`, then :meth:`start`."""
        attempt = await self.limiter.check(
            normalize_email(email), client.address if client is not None else None
        )
        try:
            user = await self.authenticate(email, password)
        except EmailNotVerifiedError:
            await attempt.succeeded()  # the password was right: not a guess
            raise
        await attempt.succeeded()
        return await self.start(user, client=client, scope=scope)

    # --- sign-up ------------------------------------------------------------------------------

    def _check_email(self, email: str) -> str:
        """``email`` normalised; SignUpFieldError (422) when it is not an address, or when the
        mailer can say it could never send to it (the SMTP sender's ``check_address``: white
        space, a quoted local part, a domain that is no host name...)."""
        normal = normalize_email(email) if isinstance(email, str) else ""
        if not 3 <= len(normal) <= MAX_EMAIL_CHARS or not _EMAIL.fullmatch(normal):
            raise SignUpFieldError("email", "the e-mail is not an address")
        check: Callable[[str], object] | None = getattr(self.mailer, "check_address", None)
        if check is not None:
            try:
                check(normal)
            except ValueError as exc:
                raise SignUpFieldError("email", f"no mail can reach this e-mail: {exc}") from None
        return normal

    def _check_fields(self, fields: Mapping[str, object] | None) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {}
        for name, value in (fields or {}).items():
            if name in SERVER_ONLY_FIELDS:
                raise SignUpFieldError(name, f"the field {name!r} is set by the server only")
            if name not in self.options.signup_fields:
                raise SignUpFieldError(name, f"the field {name!r} cannot be set at sign-up")
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise SignUpFieldError(name, f"the field {name!r} must be a string or a number")
            attributes[name] = value
        return attributes

    async def sign_up(
        self,
        email: str,
        password: str,
        *,
        fields: Mapping[str, object] | None = None,
        client: ClientInfo | None = None,
        scope: str | None = None,
        send_mail: bool = True,
    ) -> SignUpResult:
        """A new account (``SIGNUP=open``, else SignUpClosedError), its e-mail normalised and
        its ``fields`` among ``SIGNUP_FIELDS`` (SignUpFieldError otherwise), at most 3 per
        e-mail per hour (RateLimitError), the password under the policy (WeakPasswordError).

        With ``EMAIL_VERIFICATION=required`` a taken e-mail is not told apart: the result is a
        new account's with ``user=None`` (the same work was done: the hash, the insert the
        database refused) and no mail is sent. Otherwise a taken e-mail is DuplicateUserError.
        Unless verification is required, the account signs in at once (``tokens``).
        ``send_mail=False`` leaves the verification mail to the caller
        (:meth:`send_verification`, e.g. after the answer, as the route does)."""
        if self.options.signup != "open":
            raise SignUpClosedError("sign-up is closed")
        normal = self._check_email(email)
        attributes = self._check_fields(fields)
        count, window = self.options.signup_limit
        await self.limiter.reserve("signup", normal, limit=count, window=window)
        password_hash = await self._hash(password)
        now = self._clock()
        record = UserRecord(
            id=str(uuid.uuid4()),
            email=normal,
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
            attributes=attributes,
        )
        verification = self.options.email_verification != "off"
        try:
            user = await self.users.create_user(record)
        except DuplicateUserError:
            if self.options.verification_required:
                return SignUpResult(user=None, verification=True)
            raise
        if verification and send_mail:
            await self.send_verification(user)
        if self.options.verification_required:
            return SignUpResult(user=user, verification=True)
        tokens = await self.sign_in_user(user, client=client, scope=scope, amr=("pwd",))
        return SignUpResult(user=user, tokens=tokens, verification=verification)

    # --- e-mail verification ------------------------------------------------------------------

    async def _issue(self, user: UserRecord, kind: MailKind) -> str:
        tokens = self._verify_tokens if kind == VERIFY_EMAIL else self._reset_tokens
        ttl = (
            self.options.verify_email_ttl
            if kind == VERIFY_EMAIL
            else self.options.reset_password_ttl
        )
        token, token_hash = tokens.issue()
        now = self._clock()
        await self.users.add_user_token(
            token_hash, user_id=user.id, purpose=kind, expires_at=now + ttl, now=now
        )
        return token

    async def _mail(self, kind: MailKind, email: str, token: str) -> None:
        """Hand one message to the mailer: the app's ``on_send``, else the built-in SMTP sender
        of ``SMTP_URL`` (:mod:`tokenward.smtp`), else the log in development. With none of them
        a ConfigurationError says how to get one."""
        if self.mailer is None:
            raise ConfigurationError(
                "nothing can send account mail: pass Auth(settings, on_send=...) or set "
                "SMTP_URL (with SMTP_FROM and APP_URL) for the built-in SMTP sender"
            )
        await self.mailer.send(kind, email, token)

    async def send_verification(self, user: UserRecord) -> None:
        """A new verification token for ``user`` (``VERIFY_EMAIL_TTL``), mailed."""
        token = await self._issue(user, VERIFY_EMAIL)
        await self._mail(VERIFY_EMAIL, user.email, token)

    async def _consume(self, token: str, tokens: OneTimeTokens) -> str:
        if not isinstance(token, str):
            raise AccountTokenError("malformed")
        try:
            token_hash = tokens.hash(token)
        except MalformedTokenError:
            raise AccountTokenError("malformed") from None
        user_id = await self.users.consume_user_token(
            token_hash, purpose=tokens.purpose, now=self._clock()
        )
        if user_id is None:
            raise AccountTokenError("unknown")  # unknown, expired or used: one answer
        return user_id

    async def verify_email(self, token: str) -> UserRecord:
        """Spend a verification token and mark its user's e-mail verified; AccountTokenError
        for a malformed, unknown, expired or used token."""
        user_id = await self._consume(token, self._verify_tokens)
        user = await self.users.update_user(user_id, now=self._clock(), email_verified=True)
        if user is None:
            raise AccountTokenError("unknown")
        return user

    async def resend_verification(self, user_id: str) -> bool:
        """Another verification mail for a signed-in user (at most 3 per hour per user:
        RateLimitError); False (nothing sent) when the e-mail is verified already."""
        user = await self.users.get_user(user_id)
        if user is None or user.email_verified or user.disabled:
            return False  # nothing to send: nothing counted
        count, window = self.options.resend_limit
        await self.limiter.reserve("resend-verification", user_id, limit=count, window=window)
        await self.send_verification(user)
        return True

    # --- passwords: forgotten, reset, changed -------------------------------------------------

    async def forgot_password(self, email: str) -> bool:
        """A reset mail for the account of ``email``, if there is one that is not disabled (at
        most 3 per e-mail per hour: RateLimitError). Returns whether a mail went out; a route
        must not tell its caller (see the forgot-password route: it answers first)."""
        normal = normalize_email(email) if isinstance(email, str) else ""
        count, window = self.options.forgot_limit
        await self.limiter.reserve("forgot-password", normal, limit=count, window=window)
        user = await self.users.get_user_by_email(normal)
        if user is None or user.disabled:
            return False
        token = await self._issue(user, RESET_PASSWORD)
        await self._mail(RESET_PASSWORD, user.email, token)
        return True

    async def reset_password(
        self, token: str, new_password: str, *, address: str | None = None
    ) -> UserRecord:
        """Set a new password with a reset token: at most 5 attempts per address per 15
        minutes (RateLimitError), the policy first (a weak password does not spend the token),
        then the token spent (AccountTokenError), every other reset link ended, the e-mail
        counted as verified (the link reached it), and with ``REVOKE_SESSIONS_ON_RESET`` every
        session of the user ended."""
        count, window = self.options.reset_limit
        await self.limiter.reserve(
            "reset-password", address or "unknown", limit=count, window=window
        )
        password_hash = await self._hash(new_password)
        user_id = await self._consume(token, self._reset_tokens)
        user = await self.users.update_user(
            user_id, now=self._clock(), password_hash=password_hash, email_verified=True
        )
        if user is None:
            raise AccountTokenError("unknown")
        await self.users.delete_user_tokens(user_id, purpose=RESET_PASSWORD)
        if self.options.revoke_sessions_on_reset:
            await self.lifecycle.end_others(user_id, None)
        return user

    async def change_password(
        self,
        user_id: str,
        current_password: str,
        new_password: str,
        *,
        keep_session: str | None = None,
        address: str | None = None,
    ) -> UserRecord:
        """A signed-in user's new password: the current one checked under the login lock-out
        (InvalidCredentialsError when wrong), the new one under the policy; then every reset
        link and every session but ``keep_session`` (the caller's) end."""
        user = await self.users.get_user(user_id)
        if user is None or user.disabled:
            raise InvalidCredentialsError("Incorrect password.")
        attempt = await self.limiter.check(user.email, address)
        ok = False
        if user.password_hash is None:
            await asyncio.to_thread(self.hasher.verify_dummy, current_password)
        else:
            try:
                ok = await asyncio.to_thread(
                    self.hasher.verify, user.password_hash, current_password
                )
            except PasswordHashError:
                _log.error("tokenward: the password hash of user %s cannot be checked", user_id)
        if not ok:
            raise InvalidCredentialsError("The current password is not correct.")
        await attempt.succeeded()
        password_hash = await self._hash(new_password)
        changed = await self.users.update_user(
            user_id, now=self._clock(), password_hash=password_hash
        )
        if changed is None:
            raise InvalidCredentialsError("Incorrect password.")
        await self.users.delete_user_tokens(user_id, purpose=RESET_PASSWORD)
        await self.lifecycle.end_others(user_id, keep_session)
        return changed

    # --- what an admin does -------------------------------------------------------------------

    async def create_user(
        self,
        email: str,
        password: str | None = None,
        *,
        groups: Sequence[str] = (),
        roles: Sequence[str] = (),
        email_verified: bool = True,
        disabled: bool = False,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> UserRecord:
        """An account made by an admin (``SIGNUP`` does not matter), with groups and roles (set
        here only), its e-mail verified unless told otherwise; ``password`` under the policy,
        or None (the user sets one through a reset link: :meth:`reset_link_token`).
        DuplicateUserError when the e-mail is taken."""
        normal = self._check_email(email)
        password_hash = None if password is None else await self._hash(password)
        now = self._clock()
        return await self.users.create_user(
            UserRecord(
                id=str(uuid.uuid4()),
                email=normal,
                password_hash=password_hash,
                created_at=now,
                updated_at=now,
                email_verified=email_verified,
                disabled=disabled,
                groups=tuple(groups),
                roles=tuple(roles),
                attributes=dict(attributes or {}),
            )
        )

    async def find(self, who: str) -> UserRecord | None:
        """The user whose id or e-mail ``who`` is."""
        return await self.users.get_user(who) or await self.users.get_user_by_email(
            normalize_email(who)
        )

    async def set_disabled(self, user_id: str, disabled: bool) -> UserRecord | None:
        """Disable (every session ends, sign-in and refresh are refused) or enable a user; None
        when there is no such user."""
        user = await self.users.update_user(user_id, now=self._clock(), disabled=disabled)
        if user is not None and disabled:
            await self.lifecycle.end_others(user_id, None)
        return user

    async def set_groups(
        self, user_id: str, groups: Sequence[str], roles: Sequence[str] | None = None
    ) -> UserRecord | None:
        """Replace a user's groups (and roles when given); the access tokens carry them from
        the next refresh on. None when there is no such user."""
        return await self.users.update_user(
            user_id,
            now=self._clock(),
            groups=tuple(groups),
            roles=None if roles is None else tuple(roles),
        )

    async def reset_link_token(self, user_id: str) -> str:
        """A password-reset token for ``user_id``, not mailed (``tokenward users reset-link``
        prints it for an admin to hand over). ValueError when there is no such user."""
        user = await self.users.get_user(user_id)
        if user is None:
            raise ValueError(f"no user {user_id!r}")
        return await self._issue(user, RESET_PASSWORD)


# --- what the access tokens of an account carry --------------------------------------------------

UserClaims = Callable[
    [UserRecord], "Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None"
]
"""``Auth(settings, claims=...)``: claims of the app's own for a user's access tokens, from the
user record (sync or async), asked at each sign-in and refresh."""

ACCOUNT_CLAIMS = frozenset({"amr", "roles", ACCESS_SET_CLAIM})
"""Claims an account's access tokens get from tokenward (besides those every access token
sets, :meth:`DebugTokens.is_reserved_claim`): the app's ``claims`` may not set them either."""


def check_user_claims(claims: Mapping[str, Any] | None) -> dict[str, Any]:
    """The app's claims as a dict; ConfigurationError for a reserved name (``iss``, ``sub``,
    ``aud``, ``exp``, ``iat``, ``nbf``, ``jti``, ``sid``, ``scope``, ``groups``, ``email``,
    ``cognito:groups``, ``token_use``, ``amr``, ``roles``, ``acl``...)."""
    if claims is None:
        return {}
    if not isinstance(claims, Mapping):
        raise ConfigurationError("claims= must return a mapping of claim names to JSON values")
    for name in claims:
        if (
            not isinstance(name, str)
            or DebugTokens.is_reserved_claim(name)
            or (name in ACCOUNT_CLAIMS)
        ):
            raise ConfigurationError(
                f"claims= returned the claim {name!r}, which tokenward sets itself"
            )
    return dict(claims)


async def user_claims(hook: UserClaims, user: UserRecord) -> dict[str, Any]:
    """``hook(user)``, awaited when it is a coroutine, checked (:func:`check_user_claims`)."""
    found = hook(user)
    if inspect.isawaitable(found):
        found = await found
    return check_user_claims(found)


def account_principal(
    user: UserRecord, amr: Sequence[str], *, session_id: str | None = None
) -> Principal:
    """The Principal an account's session speaks for: the record's id, e-mail and groups, its
    roles and ``amr`` in ``claims`` (what marks the session as an account's)."""
    if isinstance(amr, str) or not amr or not all(isinstance(a, str) and a for a in amr):
        raise ConfigurationError("amr is a non-empty sequence of method names, e.g. ('pwd',)")
    return Principal(
        subject=user.id,
        credential_type="access_token",
        email=user.email,
        groups=tuple(user.groups),
        claims={"amr": list(amr), "roles": list(user.roles)},
        session_id=session_id,
    )


LoginResult: TypeAlias = "TokenPair | MfaRequired | None"


class _DebugLogin(Protocol):
    async def login(
        self,
        email: str,
        password: str,
        scope: str | None = None,
        *,
        client: ClientInfo | None = None,
    ) -> TokenPair | None: ...


class PasswordLogin:
    """``POST /v1/auth/login`` of the custom provider: the account store first, then the debug
    user when ``debug`` is given (the services give it in development only). An account's
    answer may be :class:`MfaRequired`; EmailNotVerifiedError goes to the caller."""

    def __init__(self, accounts: Accounts | None, debug: _DebugLogin | None) -> None:
        self.accounts = accounts
        self.debug = debug

    async def login(
        self,
        email: str,
        password: str,
        scope: str | None = None,
        *,
        client: ClientInfo | None = None,
    ) -> TokenPair | MfaRequired | None:
        if self.accounts is not None:
            try:
                user = await self.accounts.authenticate(email, password)
            except InvalidCredentialsError:
                pass
            else:
                return await self.accounts.start(user, client=client, scope=scope)
        if self.debug is not None:
            return await self.debug.login(email, password, scope, client=client)
        return None
