"""The tokenward exception tree.

Everything tokenward raises on purpose derives from :class:`TokenwardError`.

* :class:`InvalidTokenError` (also a :class:`ValueError`) and its subclasses mean the token was
  at fault: answer 401. Messages say what was wrong and never echo key material.
* :class:`InvalidKeyError` and :class:`ConfigurationError` sit outside that branch: they mean the
  caller's keys or settings are unusable, which no client can fix, so they must not become a 401.
* :class:`KeySetUnavailableError` sits outside it too: the keys to check a token with cannot be
  had right now (a remote key set is unreachable), so the answer is 503, not 401.
* :class:`StoreError` (503): the database behind sessions, API keys or counters failed.
* :class:`DuplicateUserError` (also a :class:`ValueError`): a user store already holds a user
  with that email.
* :class:`UnstorableValueError` (422, also a :class:`ValueError`): a value no store can hold (a
  NUL character, a lone surrogate) was handed to one: the input's fault, not the database's.
* :class:`AuthenticationError` (401): no credentials, or credentials that are not a token (a
  wrong password, a bad HTTP Basic header). A bad *token* is an :class:`InvalidTokenError`.
* :class:`AuthorizationError` (403): the caller is known but lacks a group, a scope or an
  entitlement.
* :class:`HierarchyError` (also a :class:`ValueError`): a change of the resource hierarchy that
  would make a resource its own ancestor.
* :class:`ExternalSignInError` (401, an :class:`AuthenticationError`): a sign-in with an external
  provider that did not prove who the browser is (a bad, replayed or expired ``state``, a state
  from another browser, a wrong ``nonce``, a refused code exchange, an ID token that fails);
  ``reason`` names which. :class:`ExternalSignUpError` (403): the provider proved who it is, but
  no account may be made or linked for it here (sign-up closed, an email the provider has not
  verified). :class:`ExternalProviderUnavailableError` (503): the provider could not be reached.
* :class:`RateLimitError` (429): too many attempts; ``retry_after`` says for how long.
* :class:`WeakPasswordError` (422, also a :class:`ValueError`): a new password the policy
  refuses; ``rules`` names every rule it breaks.
* :class:`PasskeyError` (401, an :class:`AuthenticationError`): a WebAuthn ceremony that does
  not check out (unknown, used or expired challenge, wrong origin or RP, no user verification,
  a bad signature, a counter that went backwards, an unknown or revoked passkey).
* :class:`PasskeyInputError` (422, also a :class:`ValueError`): a passkey request that cannot be
  read (a credential that is not WebAuthn's JSON) or does not fit (a passkey registered already,
  too many passkeys, none to step up with).
* :class:`InsufficientAuthenticationError` (403, RFC 9470): the caller is signed in, but
  without a second factor recent enough (``max_age``) for this request: step up first.
* :class:`InvalidSecondFactorError` (401): a wrong, reused or expired second factor (a TOTP
  code, a recovery code, an ``mfa_token``).
* :class:`SecondFactorStateError` (422): the request does not fit the user's second factors
  (confirming without an enrolment, enrolling while one is on, a challenge without a factor).
* :class:`EmailNotVerifiedError` (401): the password was right but the account's e-mail is not
  verified yet while ``EMAIL_VERIFICATION=required``.
* :class:`AccountTokenError` (400): a verification or password-reset token that is malformed,
  unknown, expired or already used (one answer for all of them).
* :class:`SignUpClosedError` (403): ``SIGNUP=closed``: only admins create accounts.
* :class:`SignUpFieldError` (422, also a :class:`ValueError`): a sign-up body sets a field the
  client may not set (``groups``, ``roles``, ``email_verified``, ``disabled``, or one not in
  ``SIGNUP_FIELDS``), or an e-mail that is not an address.
* :class:`PasswordHashError`: a stored password hash that is not an Argon2id PHC string tokenward
  can check (corrupt, or another scheme such as bcrypt). The stored data's fault, not the
  client's: never a 401 for the caller to retry, and never a 500 either (see docs/accounts.md).
* :class:`MailDeliveryError` (503): an account message (a verification or reset link) could not
  be handed to the mail server.

The FastAPI layer maps this tree to HTTP answers in one place (``tokenward.fastapi.errors``).
"""

from __future__ import annotations

__all__ = [
    "AccountTokenError",
    "AuthenticationError",
    "AuthorizationError",
    "ConfigurationError",
    "CsrfError",
    "DecryptionError",
    "DuplicateKeyError",
    "DuplicateUserError",
    "EmailNotVerifiedError",
    "ExpiredTokenError",
    "ExternalProviderUnavailableError",
    "ExternalSignInError",
    "ExternalSignUpError",
    "HierarchyError",
    "ImmatureTokenError",
    "InsufficientAuthenticationError",
    "IntrospectionUnavailableError",
    "InvalidApiKeyError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidCredentialsError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSecondFactorError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeyNotFoundError",
    "KeySetUnavailableError",
    "MailDeliveryError",
    "MalformedTokenError",
    "MissingClaimError",
    "NotAuthenticatedError",
    "PasskeyError",
    "PasskeyInputError",
    "PasswordHashError",
    "RateLimitError",
    "RefreshTokenError",
    "SecondFactorStateError",
    "SignUpClosedError",
    "SignUpFieldError",
    "StoreError",
    "TokenUseError",
    "TokenwardError",
    "UnstorableValueError",
    "UnsupportedAlgorithmError",
    "WeakPasswordError",
]


class TokenwardError(Exception):
    """Base class of every error tokenward raises.

    ``challenges`` are the ``WWW-Authenticate`` values a server sends with a 401 for this error;
    the authenticator fills them in (one per strategy tried), empty elsewhere. ``accepted``
    says, for a client, what the refusing authenticator accepts (``an access token (…) or HTTP
    Basic credentials (…)``); empty elsewhere."""

    challenges: tuple[str, ...] = ()
    accepted: str = ""


class InvalidTokenError(TokenwardError, ValueError):
    """The token must be refused. Subclasses say why."""


class MalformedTokenError(InvalidTokenError):
    """Not a well-formed compact JWS/JWT: bad base64url, JSON, header, size or nesting."""


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify with the selected key."""


class ExpiredTokenError(InvalidTokenError):
    """The ``exp`` claim has passed (after leeway)."""


class ImmatureTokenError(InvalidTokenError):
    """The ``nbf`` or ``iat`` claim lies in the future (after leeway)."""


class InvalidIssuerError(InvalidTokenError):
    """The ``iss`` claim is not one of the accepted issuers."""


class InvalidAudienceError(InvalidTokenError):
    """The ``aud`` claim names no accepted audience, or names one where none is expected."""


class MissingClaimError(InvalidTokenError):
    """A required claim is absent."""


class InvalidClaimError(InvalidTokenError):
    """A claim or header value has the wrong type or value."""


class TokenUseError(InvalidClaimError):
    """A Cognito token of another kind than the one accepted: an ID token where access tokens are
    wanted, or the reverse. ``token_use`` is what the token says it is (``"access"``, ``"id"``, or
    None for anything else), ``wanted`` the kinds accepted."""

    def __init__(self, message: str, *, token_use: str | None, wanted: tuple[str, ...]) -> None:
        super().__init__(message)
        self.token_use = token_use
        self.wanted = wanted


class KeyNotFoundError(InvalidTokenError):
    """No key (or more than one) in the key set matches the token."""


class UnsupportedAlgorithmError(InvalidTokenError):
    """The token's algorithm is unknown, ``none``, not allowed, or does not fit the key."""


class DecryptionError(InvalidTokenError):
    """An encrypted field did not decrypt: tampered, truncated, or under a key the cipher lacks.

    The message is the same for every cause, so it reveals nothing about the plaintext or the key.
    """


class InvalidKeyError(TokenwardError):
    """Key material is unusable: malformed, too weak, or not permitted for the operation."""


class ConfigurationError(TokenwardError):
    """tokenward was set up inconsistently (arguments, settings, environment)."""


class KeySetUnavailableError(TokenwardError):
    """No usable verification keys: the key set could not be fetched (or only garbage came back)
    and no earlier good keys are left within their stale bound.

    Not the token's fault, so not an :class:`InvalidTokenError`: a server answers 503, never
    401 (which would tell a client to sign in again) and never 200.
    """


class IntrospectionUnavailableError(KeySetUnavailableError):
    """An RFC 7662 introspection endpoint could not say whether a token is active (down, slow,
    an error status, our client credentials refused, an answer that is not one). As for keys
    that cannot be had: a server answers 503, never 401."""


class RefreshTokenError(InvalidTokenError):
    """The refresh token cannot be used. ``reason`` is one of ``malformed``, ``unknown``,
    ``expired``, ``revoked`` or ``reused``; clients get the same answer for all of them."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidApiKeyError(InvalidTokenError):
    """The API key cannot be used. ``reason`` is one of ``malformed``, ``unknown``, ``expired``
    or ``revoked``; clients get the same answer (401 ``invalid_token``) for all of them."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreError(TokenwardError):
    """The store (sessions, API keys, counters) could not be read or written: the database is
    unreachable, locked or corrupt. Not the client's fault: a server answers 503."""


class DuplicateKeyError(StoreError):
    """A store was given an API key whose prefix (or id) another key has. A :class:`StoreError`,
    so code that only cares whether the write happened treats it like any other failure; code
    that mints keys catches it and draws a new prefix."""


class DuplicateUserError(TokenwardError, ValueError):
    """A user store was asked to create a user whose (normalised) email, or id, another user
    has. Not a :class:`StoreError`: the database works, the email is taken. What a client sees
    (409, or the same answer as a new account when email verification hides who has one) is
    the sign-up route's decision."""


class UnstorableValueError(TokenwardError, ValueError):
    """A store was handed a string it cannot hold: a NUL character (PostgreSQL's text and jsonb
    refuse it) or a lone surrogate (not encodable as UTF-8). The input is at fault, not the
    database: not a :class:`StoreError`; a server answers 422."""


class AuthenticationError(TokenwardError):
    """The request did not prove who it comes from, for a reason other than a bad token: it
    sent no credentials (:class:`NotAuthenticatedError`) or wrong ones
    (:class:`InvalidCredentialsError`). A server answers 401. ``challenges`` are the
    ``WWW-Authenticate`` values to send (one per scheme that was tried); empty means the default
    ``Bearer`` challenge."""

    def __init__(self, message: str, *, challenges: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.challenges = tuple(challenges)


class NotAuthenticatedError(AuthenticationError):
    """No credentials of any accepted kind were sent."""


class InvalidCredentialsError(AuthenticationError):
    """A user name (email) and password, or an HTTP Basic header, that do not check out. The
    message is the same for an unknown user and a wrong password."""


class ExternalSignInError(AuthenticationError):
    """A sign-in with an external provider failed to prove who the browser is. ``reason`` (also
    sent to the client, as ``error``) is one of ``invalid_state`` (unknown, used already or
    expired), ``state_not_bound`` (the state cookie is missing or another browser's),
    ``provider_error`` (the provider answered the callback, or the code exchange, with an
    error: a wrong PKCE verifier, a code used twice), ``invalid_id_token`` (signature, ``iss``,
    ``aud``, ``azp`` or times), ``invalid_nonce``, ``invalid_profile`` (the provider's user
    information is unusable), ``account_disabled``. A server answers 401."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ExternalSignUpError(TokenwardError):
    """The external provider proved who the browser is, but no account may be made or linked
    for it: ``reason`` is ``signup_closed`` (``OAUTH_SIGNUP=closed`` and no account is linked),
    ``email_not_verified`` (a new account needs an email the provider verified) or
    ``already_linked`` (the account of that email is linked to another identity at this
    provider). A server answers 403."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ExternalProviderUnavailableError(TokenwardError):
    """The external provider (its discovery document, token endpoint or user API) could not be
    reached, or answered with a server error: nobody's fault here, try later. A server answers
    503."""


class AuthorizationError(TokenwardError):
    """The caller is authenticated but may not do this: it lacks every one of ``groups`` (when
    given), some of ``scopes``, or the ``entitlement`` (when given; ``reasons`` then says why,
    e.g. ``("role_required",)``). A server answers 403 ``insufficient_scope``. Application code
    may raise it too; ``subject`` (also readable as ``user_id``) names the caller for logs (never
    sent to the client)."""

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        missing_scopes: tuple[str, ...] = (),
        groups: tuple[str, ...] = (),
        entitlement: str | None = None,
        user_id: str | None = None,
        reasons: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.subject = subject if subject is not None else user_id
        self.missing_scopes = tuple(missing_scopes)
        self.groups = tuple(groups)
        self.entitlement = entitlement
        self.reasons = tuple(reasons)

    @property
    def user_id(self) -> str | None:
        """The caller (the same as ``subject``)."""
        return self.subject


class HierarchyError(TokenwardError, ValueError):
    """A resource cannot be put under that parent: it would become its own ancestor (a cycle
    in the resource hierarchy). Nothing was changed."""


class RateLimitError(TokenwardError):
    """Too many attempts (logins, refreshes): try again in ``retry_after`` seconds. A server
    answers 429 with ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(-(-retry_after // 1)))  # whole seconds, rounded up


class CsrfError(TokenwardError):
    """A request authenticated by a cookie that fails the CSRF rule (docs/security.md): a
    state-changing one without an ``Origin`` (or ``Referer``) in ``ALLOWED_ORIGINS`` or without
    ``X-Tokenward-CSRF: 1``; or a cookie login or WebSocket handshake from an origin not listed.
    ``missing`` names each piece that was missing. A server answers 403."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__("cross-site request refused: it lacks " + " and ".join(missing))
        self.missing = tuple(missing)


class WeakPasswordError(TokenwardError, ValueError):
    """A new password is refused: ``rules`` names every rule of the password policy it breaks
    (``too_short``, ``too_long``, ``no_uppercase``, ``no_lowercase``, ``no_digit``,
    ``no_symbol``, ``common``, ``invalid_characters``), so a form can show them all at once. A
    server answers 422. The message never repeats the password."""

    def __init__(self, message: str, *, rules: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.rules = tuple(rules)


class PasswordHashError(TokenwardError):
    """A stored password hash cannot be checked: it is not an Argon2id ``$argon2id$v=19$...``
    PHC string within tokenward's bounds (corrupt, truncated, or another scheme such as bcrypt).
    The stored record is at fault, not the password typed: code that signs users in treats the
    account as one that cannot sign in with a password and logs the account id."""


class PasskeyError(AuthenticationError):
    """A passkey (WebAuthn) ceremony that failed: the challenge is unknown, used, expired or
    bound to someone else; the origin, the RP ID or the signature is wrong; the user was not
    verified; the counter did not move forward; the passkey is unknown or revoked. All answer
    alike (401): the message says what to do, not which check failed."""


class PasskeyInputError(TokenwardError, ValueError):
    """A passkey request that cannot be read (not WebAuthn's JSON for a credential) or does not
    fit the account (a passkey registered already, too many, none to step up with): 422."""


class MailDeliveryError(TokenwardError):
    """An account message (a verification or password-reset link) could not be handed on: the
    mail server is unreachable or slow, refused the connection's TLS, the credentials or the
    message, or the address is not one a message can be sent to. Not the client's fault: a
    server answers 503. The message names the server and what failed, never the password of
    ``SMTP_URL`` nor the token."""


class InsufficientAuthenticationError(TokenwardError):
    """The caller is authenticated, but not strongly or recently enough for this request: no
    second factor, or one older than ``max_age`` seconds (RFC 9470). A server answers 403 with
    ``WWW-Authenticate: Bearer error="insufficient_user_authentication"`` and ``max_age``; the
    client steps up (``POST /v1/auth/mfa/step-up``) and retries. ``subject`` is for logs."""

    def __init__(self, message: str, *, max_age: int | None = None, subject: str | None = None):
        super().__init__(message)
        self.max_age = max_age
        self.subject = subject


class InvalidSecondFactorError(TokenwardError):
    """A second factor that does not check out: a wrong TOTP code, one used already (replay),
    a recovery code that is wrong or spent, an unknown or expired ``mfa_token``. All answer
    alike (401), and each counts against the rate limits."""


class SecondFactorStateError(TokenwardError, ValueError):
    """The request does not fit the user's second factors: confirming without an enrolment,
    enrolling while a factor is on, removing one that is not there. A server answers 422."""


class EmailNotVerifiedError(AuthenticationError):
    """The e-mail and password are right, but the account's e-mail is not verified and
    ``EMAIL_VERIFICATION=required``. Raised only after the password checked out, so it tells
    nothing to someone who does not know it. A server answers 401 with the error code
    ``email_not_verified``."""


class AccountTokenError(TokenwardError):
    """A verification or password-reset token cannot be used: malformed, unknown, expired or
    already used (``reason`` says which, for logs; clients get one answer). A server answers 400
    (as OAuth answers a spent grant), not 401: the request's own credentials are not at fault."""

    def __init__(self, reason: str, message: str = "the link is not valid (expired or used)"):
        super().__init__(message)
        self.reason = reason


class SignUpClosedError(TokenwardError):
    """``SIGNUP=closed``: accounts are created by an admin only. A server answers 403."""


class SignUpFieldError(TokenwardError, ValueError):
    """A sign-up sets what a client may not: ``field`` is a server-only field (``groups``,
    ``roles``, ``email_verified``, ``disabled``) or not among ``SIGNUP_FIELDS``, or an e-mail
    that is not an address. Refused, never silently dropped; a server answers 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
