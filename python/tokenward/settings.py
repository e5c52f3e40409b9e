"""Settings of tokenward's auth layer, read from the environment (pydantic-settings).

Every variable carries a prefix, ``TOKENWARD_`` unless told otherwise: an app that already uses
``VEGA_AUTH_PROVIDER``, ``VEGA_AUTH_SECRET`` and so on passes ``prefix="VEGA_"``.

Settings fail closed. :meth:`AuthSettings.check` (run when an :class:`~tokenward.fastapi.Auth` is
built) refuses, with a :class:`~tokenward.ConfigurationError` that names the variable to set:

* the custom provider unless ``ENVIRONMENT`` names development explicitly (``development``,
  the default, ``dev``, ``local``, ``test``, ``testing``): any other value — ``staging``,
  ``prd``, ``production-eu``, a typo — refuses to start it unless
  ``ALLOW_CUSTOM_AUTH_IN_PRODUCTION`` is true, and then it signs in accounts only: the debug
  user (``DEBUG_EMAIL``, ``DEBUG_PASSWORD``) signs in in development and nowhere else;
* an ``AUTH_SECRET`` shorter than 32 bytes, or blank (white space only); the same for each
  secret of ``AUTH_SECRET_PREVIOUS`` (comma-separated), which also must not repeat
  ``AUTH_SECRET``, begin or end with white space, or be set without ``AUTH_SECRET``;
* no ``AUTH_SECRET`` outside development. In development a missing secret means a random one for
  this process, and a logged warning that tokens will not survive a restart;
* ``AUTH_PROVIDER=cognito`` without ``COGNITO_REGION``, ``COGNITO_USER_POOL_ID`` and
  ``COGNITO_APP_CLIENT_ID`` (comma-separated for several app clients);
* a role table that does not hold together (:meth:`AuthSettings.rbac`): ``ROLES``/``SCOPES``
  that are not JSON of the right shape, a ``DEFAULT_ROLE`` or ``SUPER_ADMIN_ROLE`` that is no
  role, a role granting a scope ``SCOPES`` does not declare;
* ``AUTH_PROVIDER=oidc`` without an issuer (``OIDC_ISSUER`` or ``OIDC_ISSUERS``) and its
  audience (``OIDC_AUDIENCE``), or with an issuer, preset or tenant list that does not hold
  together (docs/oidc.md);
* ``TRUST_GATEWAY_CLAIMS=true`` with another provider than Cognito.
* ``OAUTH_PROVIDERS`` under another provider than the custom one, naming an unknown provider,
  or one without its client id and secret (``OAUTH_OIDC_ISSUER`` too for ``oidc``); without
  ``OAUTH_REDIRECT_BASE_URL`` (https outside development), or with endpoint overrides that
  are plain http to a host that is not loopback.
* a ``memory://`` ``STORE_URL`` (per process, lost on restart) outside development.
* an asymmetric ``TOKEN_ALGORITHM`` without ``SIGNING_KEY_FILE`` outside development (in
  development a key is generated and kept under ``.tokenward/``).
* an ``SMTP_URL`` that is not ``smtp://`` or ``smtps://`` with known options, or without
  ``SMTP_FROM`` and ``APP_URL``; an ``SMTP_FROM`` that is not an address; an ``APP_URL`` that is
  not http(s), or plain http outside development on a host that is not a loopback one.

A ``<PREFIX>*`` variable that names no setting (``MYAPP_ENVIROMENT``) is not refused, but the
check logs a warning naming the closest setting (``tokenward settings check`` exits 1 on it).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tokenward.authsecrets import Secrets
from tokenward.exceptions import ConfigurationError
from tokenward.rbac import Roles

__all__ = [
    "DEFAULT_DEBUG_PASSWORD",
    "DEFAULT_PREFIX",
    "DEFAULT_TOKEN_CACHE_SIZE",
    "SETTING_GROUPS",
    "AuthSettings",
    "Setting",
    "settings",
    "unknown_variables",
]

_log = logging.getLogger("tokenward")

DEFAULT_PREFIX = "TOKENWARD_"
DEFAULT_DEBUG_PASSWORD = "vega-debug-password"
MIN_SECRET_BYTES = 32
# About 4 KB per cached token (docs/performance.md): 4 MiB at most with the default.
DEFAULT_TOKEN_CACHE_SIZE = 1024
MAX_TOKEN_CACHE_SIZE = 1_000_000  # the native cache's own bound

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}(:|$)){_LABEL}(\.{_LABEL})+(:[0-9]{{1,5}})?")
# Variables under the default prefix that belong to tokenward's own build, test and benchmark
# tools (TOKENWARD_PG_BIN, the tests' TOKENWARD_TEST_* prefixes...), not to the settings.
_TOOL_VARIABLES = (
    "PG_BIN",
    "DOCS_SCREENSHOTS",
    "BUILD_TOOLS",
    "BUILD_MODULE",
    "VARIANTS",
    "WERROR",
    "TEST_",
    "BENCH_",
)
_PRODUCTION = frozenset({"production", "prod", "live"})
_DEVELOPMENT = frozenset({"development", "dev", "local", "test", "testing"})

# Bounds that catch unit mistakes (minutes given as seconds, ...), in seconds.
_LIFETIME_BOUNDS = {
    "access_token_lifetime": (1, 24 * 3600),
    "refresh_token_lifetime": (60, 366 * 24 * 3600),
    "refresh_reuse_grace": (0, 300),
    "verify_email_ttl": (60, 30 * 24 * 3600),
    "reset_password_ttl": (60, 7 * 24 * 3600),
}
# Never set by a client at sign-up (SIGNUP_FIELDS refuses them), whatever the allow-list says.
SERVER_ONLY_FIELDS = frozenset(
    {"id", "email", "password", "groups", "roles", "email_verified", "disabled"}
)


def _names(value: Any) -> Any:
    """A comma- or space-separated string (or a JSON list, already decoded) as a list of names."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            raise ValueError("looks like a JSON list but is not valid JSON")
        return [item for item in value.replace(",", " ").split() if item]
    return value


def _seconds(value: Any) -> Any:
    """Whole seconds may be given as a bare number, in the environment too."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


# --- the settings, one class per concern ---------------------------------------------------------
#
# Each group is a model whose fields AuthSettings inherits: the variables keep their names
# (<PREFIX> + the field's name) and the code reads ``settings.auth_secret`` as before. A new
# setting is one field, with a description, in its group's class (a new group: a class with a
# ``concern`` and one more base of AuthSettings); SETTINGS, the docs check and ``settings check``
# follow from it. tests/test_settings_registry.py checks that docs/fastapi.md lists each one.


class ProviderSettings(BaseModel):
    """Which provider runs, and where (development or not)."""

    concern: ClassVar[str] = "provider"
    auth_provider: Literal["custom", "cognito", "oidc"] = Field(
        default="custom",
        description="custom (HMAC tokens and a debug login), cognito, or oidc (any OpenID "
        "Connect issuer)",
    )
    environment: str = Field(
        default="development",
        description="development, dev, local, test or testing count as development; any other "
        "value refuses custom auth",
    )
    allow_custom_auth_in_production: bool = Field(
        default=False,
        description="run the custom provider outside development anyway (accounts only: the "
        "debug login stays in development)",
    )


class SecretSettings(BaseModel):
    """The app's secrets: AUTH_SECRET keys tokens, API-key hashes and limiter counters."""

    concern: ClassVar[str] = "secrets"
    auth_secret: SecretStr | None = Field(
        default=None, description="at least 32 bytes; keys every custom-provider token"
    )
    auth_secret_previous: SecretStr | None = Field(
        default=None,
        description="older secrets (comma-separated) still honoured after a rotation: tokens, API "
        "keys and lock-outs made under them keep working while they are listed",
    )
    field_encryption_secret: SecretStr | None = Field(
        default=None,
        description="encrypts the non-registered claims of the custom provider's access tokens "
        "(tw1, AES-256-GCM); at least 32 bytes; asymmetric TOKEN_ALGORITHM only",
    )


class DebugUserSettings(BaseModel):
    """The custom provider's debug login (development only: outside it nobody signs in so)."""

    concern: ClassVar[str] = "debug user"
    debug_email: str = Field(
        default="debug@example.com",
        min_length=3,
        max_length=320,
        description="the debug user's email (compared case-insensitively)",
    )
    debug_password: SecretStr = Field(
        default=SecretStr(DEFAULT_DEBUG_PASSWORD),
        description="the debug user's password (development only: outside it the debug "
        "login is off)",
    )
    debug_groups: str | list[str] = Field(
        default="root,operator", description="groups of the debug user"
    )
    debug_scopes: str | list[str] = Field(
        default="", description="scopes the debug user may be granted"
    )


class TokenSettings(BaseModel):
    """The custom provider's access tokens, their signing keys and the verified-token cache."""

    concern: ClassVar[str] = "tokens"
    token_algorithm: Literal["HS256", "RS256", "PS256", "ES256", "EdDSA"] = Field(
        default="HS256",
        description="how the custom provider signs access tokens: HS256 (AUTH_SECRET) or an "
        "asymmetric algorithm whose public keys the JWKS endpoint publishes",
    )
    token_issuer: str = Field(
        default="tokenward",
        min_length=1,
        max_length=256,
        description="the iss of the custom provider's access tokens",
    )
    access_token_lifetime: _dt.timedelta = Field(
        default=_dt.timedelta(minutes=15),
        description="how long an access token lives (seconds or ISO 8601); 1 s to 24 h",
    )
    leeway: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="seconds of clock skew allowed when checking exp, nbf and iat, for both "
        "providers (a server a little behind the issuer accepts its fresh tokens)",
    )
    signing_key_file: str | None = Field(
        default=None,
        description="the private signing keys (a JWK set or PEM, current key first) for an "
        "asymmetric TOKEN_ALGORITHM; in development a key under .tokenward/ when unset",
    )
    jwks_path: str = Field(
        default="/.well-known/jwks.json",
        min_length=1,
        max_length=256,
        pattern=r"^/",
        description="where auth.jwks_router serves the public keys",
    )
    jwks_cache_control: str = Field(
        default="public, max-age=3600, stale-while-revalidate=86400",
        min_length=1,
        max_length=256,
        description="the Cache-Control of the JWKS endpoint",
    )
    token_cache_size: int = Field(
        default=DEFAULT_TOKEN_CACHE_SIZE,
        ge=0,
        le=MAX_TOKEN_CACHE_SIZE,
        description="verified access tokens remembered, so a token seen again skips the "
        "signature check and the parsing (never past its exp; emptied when the keys change); "
        "0 turns the cache off",
    )


class SessionSettings(BaseModel):
    """Refresh tokens and sessions."""

    concern: ClassVar[str] = "sessions"
    refresh_token_lifetime: _dt.timedelta = Field(
        default=_dt.timedelta(days=7),
        description="how long each refresh token lives (sliding); 60 s to 366 days",
    )
    refresh_reuse_grace: _dt.timedelta = Field(
        default=_dt.timedelta(seconds=10),
        description="seconds in which a duplicate refresh gets the same new pair; 0 to 300",
    )
    max_sessions_per_user: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="live sessions per user; a new login past it ends the oldest",
    )
    revoke_access_tokens: bool = Field(
        default=False,
        description="check the session of every custom-provider access token against the store "
        "(ending a session then stops its access tokens within SESSION_CHECK_CACHE_TTL)",
    )
    session_check_cache_ttl: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="seconds one instance remembers that a session is live (0 to 300)",
    )


class LimitSettings(BaseModel):
    """Login and refresh rate limits, and whose client address counts."""

    concern: ClassVar[str] = "limits"
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="failed logins for one user name before it is locked out",
    )
    login_failure_window: _dt.timedelta = Field(
        default=_dt.timedelta(minutes=15),
        description="the window of those failures, and the longest a lock-out lasts",
    )
    login_max_per_address: int = Field(
        default=20, ge=1, le=100_000, description="login attempts per client address per minute"
    )
    refresh_max_per_address: int = Field(
        default=10, ge=1, le=100_000, description="refreshes per client address per minute"
    )
    trusted_proxies: str | list[str] = Field(
        default="", description="proxies whose X-Forwarded-For is believed (addresses, networks)"
    )


class TransportSettings(BaseModel):
    """Where a request's credentials are read: the strategies and their headers, query, realm."""

    concern: ClassVar[str] = "transports"
    auth_strategies: str | list[str] = Field(
        default="jwt,api_key",
        description="what require_current_user accepts, in order: jwt, api_key, basic, gateway",
    )
    basic_realm: str = Field(
        default="tokenward",
        min_length=1,
        max_length=128,
        description="the realm of the HTTP Basic challenge",
    )
    websocket_token_query: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.~-]*$",
        description="a query parameter (e.g. access_token) in which a WebSocket handshake may "
        "carry its access token, for browsers, which cannot set its headers; unset or empty: "
        "only the Authorization header counts",
    )
    api_key_header: bool = Field(
        default=False,
        description="also read an API key (vk_…) from the X-API-Key header; Authorization wins",
    )
    cookie_sessions: bool = Field(
        default=False,
        description="login and refresh also set the tokens as HttpOnly cookies, and the access "
        "cookie authenticates requests (state-changing ones CSRF-checked against "
        "ALLOWED_ORIGINS)",
    )
    cookie_access_name: str = Field(
        default="tw_access",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the name of the access-token cookie (COOKIE_SESSIONS)",
    )
    cookie_refresh_name: str = Field(
        default="tw_refresh",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the name of the refresh-token cookie, sent to the auth routes only",
    )
    allowed_origins: str | list[str] = Field(
        default="",
        description="origins (https://app.example.com) whose pages may send state-changing "
        "requests a cookie authenticates, sign in with cookies, and open cookie WebSockets",
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        origins = _names(value)
        for origin in origins:
            parts = urlsplit(str(origin))
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
            if parts.query or parts.fragment or "@" in parts.netloc:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return origins


class ApiKeySettings(BaseModel):
    """API keys."""

    concern: ClassVar[str] = "api keys"
    api_key_cache_ttl: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="seconds a checked API key is remembered: a revocation reaches every "
        "instance within it; 0 looks every key up on every request",
    )


class CognitoSettings(BaseModel):
    """The Cognito provider (AUTH_PROVIDER=cognito)."""

    concern: ClassVar[str] = "cognito"
    cognito_region: str | None = Field(
        default=None, description="the user pool's AWS region (AUTH_PROVIDER=cognito)"
    )
    cognito_user_pool_id: str | None = Field(
        default=None, description="the user pool's id (AUTH_PROVIDER=cognito)"
    )
    cognito_app_client_id: str | None = Field(
        default=None,
        description="the app client ids whose tokens are accepted, comma-separated "
        "(AUTH_PROVIDER=cognito)",
    )
    cognito_jwks_url: str | None = Field(
        default=None, description="overrides {issuer}/.well-known/jwks.json (emulators, tests)"
    )
    cognito_issuer: str | None = Field(
        default=None,
        description="the exact 'iss' of the pool's tokens, replacing the AWS issuer URL "
        "(emulators whose iss is not an AWS URL)",
    )
    cognito_domain: str | None = Field(
        default=None,
        description="the user pool's hosted-UI domain (auth.example.com): Swagger's Authorize "
        "then signs in there (authorization code with PKCE)",
    )
    cognito_token_use: Literal["access", "id", "any"] = Field(
        default="access",
        description="which Cognito tokens a bearer header may carry: access (the default), id "
        "(ID tokens, which carry the user's attributes, email among them) or any",
    )
    trust_gateway_claims: bool = Field(
        default=False,
        description="Cognito only: accept the claims an API Gateway JWT authorizer verified "
        "(requestContext.authorizer.jwt.claims) as the identity",
    )


class OidcSettings(BaseModel):
    """Any OpenID Connect issuer (AUTH_PROVIDER=oidc, docs/oidc.md)."""

    concern: ClassVar[str] = "oidc"
    oidc_issuer: str | None = Field(
        default=None, description="the exact 'iss' of the tokens; keys found by discovery"
    )
    oidc_issuers: str | None = Field(
        default=None,
        description="several issuers: a JSON array of issuer URLs or objects (issuer, "
        "audience, preset, groups_claim, roles_claim, scope_claims, tenants, discovery_url, "
        "jwks_url), or a comma-separated list of issuer URLs",
    )
    oidc_audience: str | None = Field(
        default=None, description="the audience(s) tokens must name in aud (comma-separated)"
    )
    oidc_preset: Literal["auth0", "okta", "keycloak", "entra", "google"] | None = Field(
        default=None, description="the issuer's token shape: auth0, okta, keycloak, entra, google"
    )
    oidc_groups_claim: str | None = Field(
        default=None,
        description="the claim (or dotted path) holding the groups; groups unless a preset says "
        "otherwise; empty: none",
    )
    oidc_roles_claim: str | None = Field(
        default=None, description="the claim (or dotted path) holding roles, added to the groups"
    )
    oidc_scope_claims: str | None = Field(
        default=None, description="the claims holding scopes, in order (scope,scp by default)"
    )
    oidc_tenants: str | None = Field(
        default=None,
        description="the tenant ids accepted by an issuer holding {tenantid} (Entra multi-tenant)",
    )
    oidc_discovery_url: str | None = Field(
        default=None, description="replaces {issuer}/.well-known/openid-configuration"
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="skips discovery: the issuer's key set is fetched there"
    )
    oidc_introspection_url: str | None = Field(
        default=None,
        description="an RFC 7662 introspection endpoint: the introspection strategy checks "
        "opaque access tokens there",
    )
    oidc_client_id: str | None = Field(
        default=None, description="this resource server's client id at the introspection endpoint"
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="its client secret (HTTP Basic client authentication)"
    )
    oidc_introspection_cache_ttl: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="seconds an active introspection answer is kept at most (never past the "
        "token's exp); 0: every request asks",
    )


class OAuthSettings(BaseModel):
    """Sign-in with an external provider: Google, GitHub, any OpenID Connect issuer
    (docs/oidc.md, "External sign-in")."""

    concern: ClassVar[str] = "external sign-in"
    oauth_providers: str | None = Field(
        default=None,
        description="the external providers offered at /v1/auth/oauth/{provider}, "
        "comma-separated: google, github, oidc",
    )
    oauth_google_client_id: str | None = Field(default=None, description="Google's client id")
    oauth_google_client_secret: SecretStr | None = Field(
        default=None, description="Google's client secret"
    )
    oauth_google_scopes: str | None = Field(
        default=None, description="the scopes asked of Google (openid email profile)"
    )
    oauth_github_client_id: str | None = Field(default=None, description="GitHub's client id")
    oauth_github_client_secret: SecretStr | None = Field(
        default=None, description="GitHub's client secret"
    )
    oauth_github_scopes: str | None = Field(
        default=None, description="the scopes asked of GitHub (read:user user:email)"
    )
    oauth_github_authorize_url: str | None = Field(
        default=None,
        description="replaces https://github.com/login/oauth/authorize (GitHub Enterprise, tests)",
    )
    oauth_github_token_url: str | None = Field(
        default=None, description="replaces https://github.com/login/oauth/access_token"
    )
    oauth_github_api_url: str | None = Field(
        default=None, description="replaces https://api.github.com (user and emails)"
    )
    oauth_oidc_client_id: str | None = Field(
        default=None, description="the client id at the generic OpenID Connect provider"
    )
    oauth_oidc_client_secret: SecretStr | None = Field(
        default=None, description="its client secret"
    )
    oauth_oidc_issuer: str | None = Field(
        default=None, description="its issuer (endpoints and keys found by discovery)"
    )
    oauth_oidc_scopes: str | None = Field(
        default=None, description="the scopes asked of it (openid email profile)"
    )
    oauth_signup: Literal["open", "closed"] = Field(
        default="closed",
        description="open: a first external sign-in with a verified email makes an account; "
        "closed: only accounts that exist (403 otherwise)",
    )
    oauth_redirect_base_url: str | None = Field(
        default=None,
        description="this API's public base URL; the providers send the browser back to "
        "{it}/v1/auth/oauth/{provider}/callback (https outside development)",
    )
    oauth_after_sign_in_url: str = Field(
        default="/",
        description="where the browser goes once signed in with cookies (COOKIE_SESSIONS); a "
        "path or an absolute URL",
    )


class AuthorizationSettings(BaseModel):
    """Roles and scopes (docs/authorization.md)."""

    concern: ClassVar[str] = "authorization"
    roles: dict[str, list[str] | dict[str, Any]] | None = Field(
        default=None,
        description='JSON: each role (a group) and the scopes it grants, {"viewer": ["a.read"]}, '
        'or with metadata, {"admin": {"scopes": [], "description": "…", "is_system": true}}',
    )
    scopes: dict[str, str] | None = Field(
        default=None,
        description='JSON: every scope of the app and its description, {"a.read": "Read a"}; '
        "when set, a role or a route naming another scope stops start-up",
    )
    default_role: str | None = Field(
        default=None, description="the role of a principal none of whose groups is a role"
    )
    super_admin_role: str | None = Field(
        default=None, description="the role that holds every declared scope"
    )
    access_set_in_token: bool = Field(
        default=False,
        description="add the user's access set (entitlements of Auth(access=...)) to the "
        "custom provider's access tokens as the 'acl' claim, with its hash; advisory, the "
        "server checks every change again",
    )


class AccountSettings(BaseModel):
    """Accounts of the custom provider: sign-up, e-mail verification, password reset and the
    password policy (docs/accounts.md)."""

    concern: ClassVar[str] = "accounts"
    signup: Literal["open", "closed"] = Field(
        default="closed",
        description="open: anyone may POST /v1/auth/signup; closed: only admins create users "
        "(auth.api.create_user, tokenward users create)",
    )
    email_verification: Literal["required", "optional", "off"] = Field(
        default="required",
        description="required: an account signs in only once its e-mail is verified (sign-up "
        "answers 202 without tokens); optional: a verification mail is sent, sign-in works "
        "before it; off: no verification mail",
    )
    revoke_sessions_on_reset: bool = Field(
        default=True, description="a password reset ends every session of the user"
    )
    verify_email_ttl: _dt.timedelta = Field(
        default=_dt.timedelta(hours=24),
        description="how long a verification link works (seconds or ISO 8601); 60 s to 30 days",
    )
    reset_password_ttl: _dt.timedelta = Field(
        default=_dt.timedelta(hours=1),
        description="how long a password-reset link works (seconds or ISO 8601); 60 s to 7 days",
    )
    signup_fields: str | list[str] = Field(
        default="",
        description="the attributes a client may set at sign-up besides email and password "
        "(comma-separated names); groups, roles, email_verified and disabled never",
    )
    password_min_length: int = Field(
        default=8, ge=1, le=256, description="the shortest password accepted (characters)"
    )
    password_max_length: int = Field(
        default=128, ge=1, le=256, description="the longest password accepted (characters)"
    )
    password_require_uppercase: bool = Field(
        default=False, description="a new password needs an uppercase letter"
    )
    password_require_lowercase: bool = Field(
        default=False, description="a new password needs a lowercase letter"
    )
    password_require_digit: bool = Field(default=False, description="a new password needs a digit")
    password_require_symbol: bool = Field(
        default=False, description="a new password needs a symbol or punctuation mark"
    )
    password_reject_common: bool = Field(
        default=True,
        description="refuse the 30,000 most common passwords (zxcvbn's list: tokenward[accounts])",
    )
    password_hash_passes: int = Field(
        default=2, ge=2, le=32, description="Argon2id passes (libsodium's opslimit)"
    )
    password_hash_memory_kib: int = Field(
        default=65536,
        ge=19456,
        le=4 * 1024 * 1024,
        description="Argon2id memory per hash in KiB (65536: 64 MiB, libsodium's INTERACTIVE); "
        "raising passes or memory rehashes each account at its next sign-in",
    )


class StoreSettings(BaseModel):
    """Where sessions, API keys and counters are kept."""

    concern: ClassVar[str] = "store"
    store_url: str = Field(
        default=":memory:",
        description="sqlite:///path.db, a file path, :memory:, postgresql://user:pw@host/db, "
        "or memory:// (development only)",
    )


_RP_ID = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
DEVELOPMENT_RP_ID = "localhost"
DEVELOPMENT_ORIGINS = ("http://localhost:8000",)


class PasskeySettings(BaseModel):
    """Passkeys (WebAuthn) of the custom provider's accounts (docs/passkeys.md)."""

    concern: ClassVar[str] = "passkeys"
    webauthn_rp_id: str | None = Field(
        default=None,
        max_length=253,
        description="the relying party id: the site's domain (example.com), which every origin "
        "must be or be under; default localhost in development, required elsewhere (unset: "
        "passkeys are off)",
    )
    webauthn_rp_name: str = Field(
        default="tokenward",
        min_length=1,
        max_length=64,
        description="the name an authenticator shows beside the passkey",
    )
    webauthn_origins: str | list[str] = Field(
        default="",
        description="the origins (https://app.example.com) whose pages may run the ceremonies, "
        "comma-separated; default http://localhost:8000 in development",
    )
    passkey_signin: bool = Field(
        default=False,
        description="a passkey signs in alone (amr webauthn); false: passkeys are registered "
        "and managed, and step up a signed-in session only",
    )

    @field_validator("webauthn_origins", mode="before")
    @classmethod
    def _split_webauthn_origins(cls, value: Any) -> Any:
        origins = _names(value)
        for origin in origins:
            parts = urlsplit(str(origin))
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path.strip("/")
                or parts.query
                or parts.fragment
                or "@" in parts.netloc
            ):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return [str(o).rstrip("/") for o in origins]

    def passkey_relying_party(self, development: bool) -> tuple[str, tuple[str, ...]] | None:
        """The RP ID and the origins passkeys run with: the settings', or in development
        localhost and http://localhost:8000 for what is unset. None outside development when
        ``WEBAUTHN_RP_ID`` is unset (passkeys are off). ConfigurationError, naming the variable,
        for an RP ID that is not a domain, an origin not on it, or plain http to a host other
        than localhost outside development."""
        rp_id = (self.webauthn_rp_id or "").strip().lower() or None
        origins = tuple(_as_tuple(self.webauthn_origins))
        prefix = getattr(self, "env_prefix", "")
        rp_var, origins_var = f"{prefix}WEBAUTHN_RP_ID", f"{prefix}WEBAUTHN_ORIGINS"
        if rp_id is None:
            if not development:
                if origins:
                    raise ConfigurationError(f"{origins_var} is set but {rp_var} is not")
                return None
            rp_id = DEVELOPMENT_RP_ID
        if not origins:
            if not development:
                raise ConfigurationError(f"{rp_var} is set but {origins_var} is not")
            origins = DEVELOPMENT_ORIGINS
        if _RP_ID.fullmatch(rp_id) is None or rp_id.replace(".", "").isdigit():
            raise ConfigurationError(f"{rp_var}={rp_id!r} is not a domain name (no scheme, port)")
        for origin in origins:
            host = (urlsplit(origin).hostname or "").lower()
            if host != rp_id and not host.endswith("." + rp_id):
                raise ConfigurationError(
                    f"{origins_var}: {origin!r} is not on {rp_var}={rp_id!r} (its host must be "
                    "the RP ID or a subdomain of it)"
                )
            if origin.startswith("http:") and host != "localhost" and not development:
                raise ConfigurationError(f"{origins_var}: {origin!r} must use https")
        return rp_id, origins


class MailSettings(BaseModel):
    """How account mail (verification and password-reset links) leaves: the built-in SMTP
    sender (tokenward.smtp), unless the app passes its own on_send."""

    concern: ClassVar[str] = "mail"
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://[user:password@]host[:port] (STARTTLS when offered, required with "
        "credentials; ?starttls=true|false), or smtps://… (TLS from the start); ?cafile=PATH "
        "for a private CA; user and password percent-encoded. Sends the account mail",
    )
    smtp_from: str | None = Field(
        default=None,
        description="the From of account mail, noreply@example.com or "
        "'Example <noreply@example.com>'; required with SMTP_URL",
    )
    smtp_timeout: float = Field(
        default=10.0, description="seconds one message may take to hand on, connecting included"
    )
    app_url: str | None = Field(
        default=None,
        description="where the app's pages are, https://app.example.com (a path may follow): "
        "mail links to APP_URL/verify-email?token=… and APP_URL/reset-password?token=…; "
        "required with SMTP_URL, https outside development unless on a loopback host",
    )


class MfaSettings(BaseModel):
    """Second factors of the custom provider's accounts: TOTP, recovery codes, step-up
    (docs/mfa.md)."""

    concern: ClassVar[str] = "second factors"
    mfa_issuer: str | None = Field(
        default=None,
        description="the issuer an authenticator app shows beside the account (the otpauth URI); "
        "default: TOKEN_ISSUER",
    )
    mfa_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="second-factor attempts per window, counted per address, per mfa_token "
        "and per account",
    )
    mfa_attempt_window: int = Field(
        default=900, ge=60, le=86400, description="the window of those attempts, in seconds"
    )
    mfa_token_ttl: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="seconds an mfa_token (a password sign-in waiting for its second factor) "
        "stays usable",
    )
    mfa_fresh_max_age: int = Field(
        default=300,
        ge=10,
        le=86400,
        description="how recent (seconds) a second factor must be to turn TOTP off without a "
        "code (DELETE /v1/auth/mfa/totp)",
    )


class AuthSettings(
    BaseSettings,
    ProviderSettings,
    SecretSettings,
    DebugUserSettings,
    TokenSettings,
    SessionSettings,
    LimitSettings,
    TransportSettings,
    ApiKeySettings,
    CognitoSettings,
    OidcSettings,
    OAuthSettings,
    AuthorizationSettings,
    AccountSettings,
    StoreSettings,
    PasskeySettings,
    MailSettings,
    MfaSettings,
):
    """Authentication settings. Field ``auth_secret`` is read from ``<PREFIX>AUTH_SECRET``, etc.
    The fields are declared by concern in the bases (:data:`SETTING_GROUPS`; :func:`settings`).

    Durations accept whole seconds (``900``) or ISO 8601 (``PT15M``); lists accept
    ``root,operator`` or a JSON array.
    """

    model_config = SettingsConfigDict(
        env_prefix=DEFAULT_PREFIX,
        case_sensitive=False,
        extra="ignore",
        validate_default=True,
    )

    _prefix: str | None = PrivateAttr(default=None)

    @field_validator(
        "debug_groups",
        "debug_scopes",
        "auth_strategies",
        "trusted_proxies",
        "signup_fields",
        mode="before",
    )
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        return _names(value)

    @field_validator("roles", "scopes", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        """JSON given as a string (an override, a .env value) is decoded here; values from the
        environment arrive decoded already."""
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("is not valid JSON") from None
        return value

    @field_validator(
        "default_role", "super_admin_role", "smtp_url", "smtp_from", "app_url", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        *_LIFETIME_BOUNDS,
        "login_failure_window",
        "verify_email_ttl",
        "reset_password_ttl",
        mode="before",
    )
    @classmethod
    def _parse_seconds(cls, value: Any) -> Any:
        return _seconds(value)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, prefix: str = DEFAULT_PREFIX, **overrides: Any) -> AuthSettings:
        """Read the settings from the environment with ``prefix``; ``overrides`` win over it.

        Any value that does not parse is a :class:`ConfigurationError` naming its variable.
        """
        try:
            settings = cls(_env_prefix=prefix, **overrides)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise _configuration_error(exc, prefix) from None
        except ValueError as exc:  # pydantic_settings.SettingsError: a value that is not JSON
            raise ConfigurationError(f"cannot read the {prefix}* settings: {exc}") from None
        settings._prefix = prefix
        return settings

    @property
    def env_prefix(self) -> str:
        """The prefix these settings were read with."""
        if self._prefix is not None:
            return self._prefix
        return str(self.model_config.get("env_prefix") or "")

    def var(self, field: str) -> str:
        """The environment variable of a field, e.g. ``TOKENWARD_AUTH_SECRET`` for auth_secret."""
        return f"{self.env_prefix}{field.upper()}"

    # --- derived values -----------------------------------------------------------------------

    @property
    def groups(self) -> tuple[str, ...]:
        """The debug user's groups."""
        return _as_tuple(self.debug_groups)

    @property
    def debug_user_scopes(self) -> tuple[str, ...]:
        """The scopes the debug user may be granted (``DEBUG_SCOPES``). Not :attr:`scopes`,
        which are the app's declared scopes (``SCOPES``)."""
        return _as_tuple(self.debug_scopes)

    def rbac(self) -> Roles:
        """The role table of ``ROLES``, ``SCOPES``, ``DEFAULT_ROLE`` and ``SUPER_ADMIN_ROLE``
        (empty when none is set); ConfigurationError naming the variables when it is unusable."""
        try:
            return Roles(
                self.roles,
                default_role=self.default_role,
                super_admin_role=self.super_admin_role,
                scopes=self.scopes,
            )
        except ConfigurationError as exc:
            names = ("roles", "scopes", "default_role", "super_admin_role")
            raise ConfigurationError(f"{', '.join(self.var(n) for n in names)}: {exc}") from None

    @property
    def strategies(self) -> tuple[str, ...]:
        """The default strategies (``AUTH_STRATEGIES``), in order."""
        return _as_tuple(self.auth_strategies)

    @property
    def proxies(self) -> tuple[str, ...]:
        """The trusted proxies (``TRUSTED_PROXIES``)."""
        return _as_tuple(self.trusted_proxies)

    @property
    def oidc_audience_list(self) -> list[str]:
        """The audiences of ``OIDC_AUDIENCE`` (comma- or space-separated)."""
        return [c for c in (self.oidc_audience or "").replace(",", " ").split() if c]

    @property
    def previous_secrets(self) -> tuple[bytes, ...]:
        """The secrets of ``AUTH_SECRET_PREVIOUS``, in order (UTF-8 bytes); see :meth:`check`."""
        if self.auth_secret_previous is None:
            return ()
        text = self.auth_secret_previous.get_secret_value()
        return tuple(item.encode("utf-8") for item in text.split(","))

    def secrets(self, current: bytes | None = None) -> Secrets | None:
        """``AUTH_SECRET`` (or ``current``, a per-process random secret) with the previous
        ones; None when there is no secret."""
        if current is None:
            if self.auth_secret is None:
                return None
            current = self.auth_secret.get_secret_value().encode("utf-8")
        return Secrets(current, self.previous_secrets)

    @property
    def cognito_client_ids(self) -> list[str]:
        """The app client ids of ``COGNITO_APP_CLIENT_ID`` (comma- or space-separated)."""
        return [c for c in (self.cognito_app_client_id or "").replace(",", " ").split() if c]

    def oidc_issuer_configs(self) -> list[Any]:
        """The issuers of ``OIDC_ISSUER``/``OIDC_ISSUERS`` (:class:`tokenward.oidc.OidcIssuer`);
        ConfigurationError naming the variable when they do not hold together."""
        from tokenward.oidc import issuers_from_settings

        def names(value: str | None) -> list[str]:
            return [c for c in (value or "").replace(",", " ").split() if c]

        try:
            configs = issuers_from_settings(
                issuer=self.oidc_issuer,
                issuers=self.oidc_issuers,
                audience=self.oidc_audience_list,
                preset=self.oidc_preset,
                groups_claim=self.oidc_groups_claim,
                roles_claim=self.oidc_roles_claim,
                scope_claims=names(self.oidc_scope_claims),
                tenants=names(self.oidc_tenants),
                discovery_url=self.oidc_discovery_url,
                jwks_url=self.oidc_jwks_url,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.var('auth_provider')}=oidc: {exc}") from None
        if not configs:
            raise ConfigurationError(
                f"{self.var('auth_provider')}=oidc needs {self.var('oidc_issuer')} (or "
                f"{self.var('oidc_issuers')}) and {self.var('oidc_audience')}"
            )
        return list(configs)

    @property
    def signup_field_names(self) -> tuple[str, ...]:
        """The attributes a client may set at sign-up (``SIGNUP_FIELDS``)."""
        return _as_tuple(self.signup_fields)

    def _check_accounts(self) -> None:
        server_only = sorted(set(self.signup_field_names) & SERVER_ONLY_FIELDS)
        if server_only:
            raise ConfigurationError(
                f"{self.var('signup_fields')} names {', '.join(server_only)}: the server alone "
                "sets those"
            )
        for name in self.signup_field_names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
                raise ConfigurationError(
                    f"{self.var('signup_fields')} holds {name!r}, which is not a field name"
                )
        if self.password_min_length > self.password_max_length:
            raise ConfigurationError(
                f"{self.var('password_min_length')} must not exceed "
                f"{self.var('password_max_length')}"
            )

    def _check_introspection(self) -> None:
        names = ("oidc_introspection_url", "oidc_client_id", "oidc_client_secret")
        missing = [self.var(n) for n in names if getattr(self, n) is None]
        if missing:
            raise ConfigurationError(
                f"the introspection strategy needs {', '.join(missing)}; list it in "
                f"{self.var('auth_strategies')} (before jwt) to use it"
            )
        from tokenward.oidc import _check_url

        _check_url(
            self.var("oidc_introspection_url"), self.oidc_introspection_url, allow_http=False
        )

    @property
    def oauth_provider_names(self) -> tuple[str, ...]:
        """The providers of ``OAUTH_PROVIDERS``, in order, lower case."""
        names = (self.oauth_providers or "").replace(",", " ").lower().split()
        return tuple(dict.fromkeys(names))

    def _check_oauth(self) -> None:
        from tokenward.oidc import _check_url

        var = self.var
        if self.auth_provider != "custom":
            raise ConfigurationError(
                f"{var('oauth_providers')}: external sign-in starts sessions of tokenward's own "
                f"tokens, which needs {var('auth_provider')}=custom"
            )
        known = ("google", "github", "oidc")
        for name in self.oauth_provider_names:
            if name not in known:
                raise ConfigurationError(
                    f"{var('oauth_providers')} names {name!r}: the providers are "
                    + ", ".join(known)
                )
            needed = [f"oauth_{name}_client_id", f"oauth_{name}_client_secret"]
            if name == "oidc":
                needed.append("oauth_oidc_issuer")
            missing = [var(n) for n in needed if not getattr(self, n)]
            if missing:
                raise ConfigurationError(f"the {name} sign-in needs {', '.join(missing)}")
        for name in (
            "oauth_github_authorize_url",
            "oauth_github_token_url",
            "oauth_github_api_url",
        ):
            if getattr(self, name) is not None:
                _check_url(var(name), getattr(self, name), allow_http=False)
        if self.oauth_oidc_issuer is not None:
            _check_url(var("oauth_oidc_issuer"), self.oauth_oidc_issuer, allow_http=False)
        base = self.oauth_redirect_base_url
        if not base:
            raise ConfigurationError(
                f"{var('oauth_providers')} needs {var('oauth_redirect_base_url')}: this API's "
                "public base URL, where the providers send the browser back"
            )
        _check_url(var("oauth_redirect_base_url"), base, allow_http=self.is_development)
        after = self.oauth_after_sign_in_url.strip()
        if not after.startswith("/") or after.startswith("//"):
            _check_url(var("oauth_after_sign_in_url"), after, allow_http=self.is_development)

    @property
    def is_production(self) -> bool:
        return self.environment.strip().lower() in _PRODUCTION

    @property
    def is_development(self) -> bool:
        return self.environment.strip().lower() in _DEVELOPMENT

    # --- the start-up check -------------------------------------------------------------------

    def unknown_variables(self) -> list[tuple[str, str | None]]:
        """The environment's ``<PREFIX>*`` variables that name no setting (a misspelling is
        otherwise ignored), each with the closest setting's variable or None."""
        return unknown_variables(self.env_prefix)

    def warn_unknown_variables(self) -> None:
        for name, closest in self.unknown_variables():
            hint = f"did you mean {closest}?" if closest else "no setting has a name like it"
            _log.warning("tokenward: %s is not a setting and is ignored (%s)", name, hint)

    def check(self) -> None:
        """Refuse settings that must not run; see the module docstring. Unknown ``<PREFIX>*``
        variables are not refused but warned about (:meth:`warn_unknown_variables`)."""
        self.warn_unknown_variables()
        known = ("jwt", "api_key", "basic", "gateway", "introspection")
        strategies = self.strategies
        unknown = [s for s in strategies if s not in known]
        if unknown or not strategies:
            raise ConfigurationError(
                f"{self.var('auth_strategies')} must list strategies among {', '.join(known)} "
                f"(it holds {', '.join(unknown) or 'none'})"
            )
        self.rbac()
        if self.trust_gateway_claims and self.auth_provider != "cognito":
            raise ConfigurationError(
                f"{self.var('trust_gateway_claims')}=true needs {self.var('auth_provider')}"
                f"=cognito: gateway claims are Cognito claims (it is {self.auth_provider!r})"
            )
        if self.store_url.strip().lower().startswith("memory://") and not self.is_development:
            raise ConfigurationError(
                f"{self.var('store_url')}={self.store_url.strip()!r} keeps sessions, API keys and "
                "counters in this process only (lost on restart, unseen by other workers): it "
                f"runs only when {self.var('environment')} names development, and "
                f"{self.var('environment')}={self.environment!r} does not; use sqlite:/// or "
                "postgresql://"
            )
        self._check_mail()
        if any(c in self.jwks_cache_control for c in "\r\n"):
            raise ConfigurationError(f"{self.var('jwks_cache_control')} must be a single line")
        if "introspection" in strategies or self.oidc_introspection_url:
            self._check_introspection()
        if self.oauth_provider_names:
            self._check_oauth()
        if self.auth_provider == "oidc":
            self.oidc_issuer_configs()
            self._check_secret_size()
            return
        if self.auth_provider == "cognito":
            names = ("cognito_region", "cognito_user_pool_id", "cognito_app_client_id")
            missing = [self.var(n) for n in names if not (getattr(self, n) or "").strip()]
            if missing:
                raise ConfigurationError(
                    f"{self.var('auth_provider')}=cognito needs " + ", ".join(missing)
                )
            if self.auth_secret is not None:
                self._check_secret_size()
            self._check_previous_secrets()
            self._check_cognito_urls()
            return
        for name, (low, high) in _LIFETIME_BOUNDS.items():
            value: _dt.timedelta = getattr(self, name)
            seconds = value.total_seconds()
            whole = name == "refresh_reuse_grace" or seconds == int(seconds)
            if not low <= seconds <= high or not whole:
                raise ConfigurationError(
                    f"{self.var(name)} must be whole seconds between {low} and {high} "
                    f"(it is {seconds:g})"
                )
        self._check_accounts()
        if self.refresh_token_lifetime <= self.access_token_lifetime:
            raise ConfigurationError(
                f"{self.var('refresh_token_lifetime')} must be longer than "
                f"{self.var('access_token_lifetime')}"
            )
        for scope in self.debug_user_scopes:
            if not scope.isprintable() or '"' in scope or "\\" in scope:
                raise ConfigurationError(f"{self.var('debug_scopes')} holds an invalid scope")
        if not self.is_development and not self.allow_custom_auth_in_production:
            raise ConfigurationError(
                "custom auth (tokenward's own tokens and accounts) starts only in development, "
                f"and {self.var('environment')}={self.environment!r} is not one of "
                f"{', '.join(sorted(_DEVELOPMENT))}: set {self.var('auth_provider')} to a "
                f"production provider, or {self.var('allow_custom_auth_in_production')}=true "
                "to run it anyway (it then signs in accounts only: the debug login stays in "
                "development)"
            )
        if self.login_failure_window.total_seconds() <= 0:
            raise ConfigurationError(f"{self.var('login_failure_window')} must be positive")
        self._check_signing()
        self.passkey_relying_party(self.is_development)  # WEBAUTHN_*: refused at start-up
        if self.auth_secret is None:
            if not self.is_development:
                raise ConfigurationError(
                    f"{self.var('auth_secret')} is not set; it is required when "
                    f"{self.var('environment')}={self.environment!r} (32 bytes or more, e.g. "
                    "the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
            self._check_previous_secrets()
            return
        self._check_secret_size()
        self._check_previous_secrets()

    def _check_mail(self) -> None:
        """SMTP_URL, SMTP_FROM, SMTP_TIMEOUT and APP_URL hold together (MailSettings)."""
        from tokenward.smtp import parse_sender, parse_smtp_url

        if not 0 < self.smtp_timeout <= 300:
            raise ConfigurationError(
                f"{self.var('smtp_timeout')} must be seconds above 0 and at most 300 "
                f"(it is {self.smtp_timeout:g})"
            )
        if self.smtp_url is not None:
            parse_smtp_url(self.smtp_url.get_secret_value(), variable=self.var("smtp_url"))
            missing = [self.var(n) for n in ("smtp_from", "app_url") if not getattr(self, n)]
            if missing:
                raise ConfigurationError(
                    f"{self.var('smtp_url')} is set, so account mail goes out: it needs "
                    f"{' and '.join(missing)} (the sender, and where the mail's links lead)"
                )
        if self.smtp_from is not None:
            try:
                parse_sender(self.smtp_from)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{self.var('smtp_from')} is not an address or 'Name <address>': {exc}"
                ) from None
        if self.app_url is not None:
            self._check_app_url()

    def _check_app_url(self) -> None:
        assert self.app_url is not None
        var = self.var("app_url")
        try:
            parts = urlsplit(self.app_url.strip())
            parts.port  # noqa: B018 (raises on a port that is not one)
        except ValueError:
            raise ConfigurationError(f"{var} is not a URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"{var} must be an http(s) URL with a host: https://…")
        if parts.query or parts.fragment or parts.username is not None:
            raise ConfigurationError(f"{var} may hold no query, fragment or user")
        if any(c.isspace() or ord(c) < 0x20 for c in self.app_url.strip()):
            raise ConfigurationError(f"{var} holds white space")
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not self.is_development and not loopback:
            raise ConfigurationError(
                f"{var} must be https:// outside development: its links carry single-use "
                "tokens, which plain http shows to every network on the way"
            )

    def _check_previous_secrets(self) -> None:
        """``AUTH_SECRET_PREVIOUS``: each secret as strict as ``AUTH_SECRET``, none repeated."""
        if self.auth_secret_previous is None:
            return
        var = self.var("auth_secret_previous")
        if self.auth_secret is None:
            raise ConfigurationError(
                f"{var} is set but {self.var('auth_secret')} is not: set the new secret there"
            )
        current = self.auth_secret.get_secret_value().encode("utf-8")
        items = self.previous_secrets
        for number, item in enumerate(items, 1):
            where = f"{var}: secret {number} of {len(items)}"
            if not item.strip():
                raise ConfigurationError(f"{where} is empty or blank (white space only)")
            if item != item.strip():
                raise ConfigurationError(f"{where} begins or ends with white space")
            if len(item) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"{where} is {len(item)} bytes long; it must be at least {MIN_SECRET_BYTES}"
                )
            if item == current:
                raise ConfigurationError(f"{where} is {self.var('auth_secret')} itself")
            if item in items[: number - 1]:
                raise ConfigurationError(f"{where} repeats an earlier one")

    def _check_secret_size(self) -> None:
        if self.auth_secret is None:
            return
        value = self.auth_secret.get_secret_value()
        if not value.strip():
            raise ConfigurationError(
                f"{self.var('auth_secret')} is blank (white space only); set a random secret "
                f"of {MIN_SECRET_BYTES} bytes or more (e.g. the output of: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        size = len(value.encode("utf-8"))
        if size < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"{self.var('auth_secret')} is {size} bytes long; it must be at least "
                f"{MIN_SECRET_BYTES} (e.g. the output of: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )

    def _check_cognito_urls(self) -> None:
        issuer = self.cognito_issuer
        if issuer is not None:
            parts = urlsplit(issuer.strip())
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ConfigurationError(
                    f"{self.var('cognito_issuer')} must be an absolute URL (the exact 'iss' of "
                    f"the pool's tokens), not {issuer!r}"
                )
        domain = self.cognito_domain
        if domain is not None and not _DOMAIN.fullmatch(domain.strip()):
            raise ConfigurationError(
                f"{self.var('cognito_domain')} must be the hosted UI's host name, like "
                f"auth.example.com or my-pool.auth.eu-west-1.amazoncognito.com (no https://, "
                f"no path), not {domain!r}"
            )

    def _check_signing(self) -> None:
        """The custom provider's signing settings: a key file for an asymmetric algorithm
        outside development, field encryption only with one."""
        if self.token_algorithm == "HS256":
            if self.field_encryption_secret is not None:
                raise ConfigurationError(
                    f"{self.var('field_encryption_secret')} needs an asymmetric "
                    f"{self.var('token_algorithm')} (ES256, EdDSA, RS256, PS256): HS256 tokens "
                    "are checked only by this service"
                )
            return
        if self.signing_key_file is None and not self.is_development:
            raise ConfigurationError(
                f"{self.var('signing_key_file')} is not set; {self.var('token_algorithm')}="
                f"{self.token_algorithm} needs the private signing keys (a JWK set or PEM file, "
                f"the current key first) when {self.var('environment')}={self.environment!r}"
            )
        if self.field_encryption_secret is not None:
            size = len(self.field_encryption_secret.get_secret_value().encode("utf-8"))
            if size < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"{self.var('field_encryption_secret')} is {size} bytes long; it must be at "
                    f"least {MIN_SECRET_BYTES}"
                )

    def warn_custom_auth(self) -> None:
        """The start-up log of the custom provider: in development why its debug login is on;
        elsewhere that accounts alone sign in (and that ``DEBUG_*`` settings, if set, are
        ignored)."""
        if self.is_development:
            default = "" if "environment" in self.model_fields_set else " (the default)"
            _log.warning(
                "tokenward: custom auth with a debug login is on, because %s=%r names "
                "development%s. For a deployment, set %s=cognito and %s=production.",
                self.var("environment"),
                self.environment,
                default,
                self.var("auth_provider"),
                self.var("environment"),
            )
            return
        _log.warning(
            "tokenward: custom auth is on although %s=%r is not development, because %s=true: "
            "accounts sign in; the debug login is off (development only).",
            self.var("environment"),
            self.environment,
            self.var("allow_custom_auth_in_production"),
        )
        ignored = [
            self.var(name)
            for name in ("debug_email", "debug_password", "debug_groups", "debug_scopes")
            if name in self.model_fields_set
        ]
        if ignored:
            _log.warning(
                "tokenward: %s %s ignored: the debug login is off outside development",
                ", ".join(ignored),
                "is" if len(ignored) == 1 else "are",
            )

    def warn_random_secret(self) -> None:
        _log.warning(
            "tokenward: %s is not set, so this process signs tokens with a random secret; "
            "tokens will not survive a restart. Set %s (32 bytes or more) to keep them.",
            self.var("auth_secret"),
            self.var("auth_secret"),
        )


SETTING_GROUPS: tuple[type[BaseModel], ...] = tuple(
    base for base in AuthSettings.__mro__ if "concern" in vars(base)
)
"""The groups of settings, in order (the bases of :class:`AuthSettings` that have a ``concern``)."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its field, group, default and description (for docs and ``settings check``)."""

    field: str
    group: str
    default: Any
    description: str
    secret: bool

    def variable(self, prefix: str = DEFAULT_PREFIX) -> str:
        """Its environment variable under ``prefix``: ``TOKENWARD_AUTH_SECRET``."""
        return f"{prefix}{self.field.upper()}"


def settings() -> tuple[Setting, ...]:
    """Every setting, group by group in :data:`SETTING_GROUPS`' order, each group's in the order
    its class declares them: the one list the docs and ``tokenward settings check`` use."""
    found: list[Setting] = []
    for group in SETTING_GROUPS:
        concern = str(vars(group)["concern"])
        for name in group.__annotations__:
            info = AuthSettings.model_fields.get(name)
            if info is None:  # the concern ClassVar
                continue
            default = info.get_default(call_default_factory=True)
            found.append(
                Setting(
                    field=name,
                    group=concern,
                    default=None if isinstance(default, SecretStr) else default,
                    description=info.description or "",
                    secret=info.annotation is SecretStr or SecretStr in get_args(info.annotation),
                )
            )
    return tuple(found)


def unknown_variables(
    prefix: str, environ: Mapping[str, str] | None = None
) -> list[tuple[str, str | None]]:
    """The variables of ``environ`` (default: the process's) under ``prefix`` (compared without
    regard to case, as the settings are read) that name no setting of :class:`AuthSettings`, in
    order, each with the closest setting's variable (``difflib``) or None. An empty prefix has
    no unknown variables; under the default prefix, the variables of tokenward's own tools
    (``TOKENWARD_PG_BIN``, ``TOKENWARD_TEST_*``...) are not counted."""
    head = prefix.upper()
    if not head:
        return []
    known = sorted(name.upper() for name in AuthSettings.model_fields)
    found: list[tuple[str, str | None]] = []
    for name in sorted(os.environ if environ is None else environ):
        upper = name.upper()
        if not upper.startswith(head):
            continue
        rest = upper[len(head) :]
        if rest in known or (head == DEFAULT_PREFIX and rest.startswith(_TOOL_VARIABLES)):
            continue
        close = difflib.get_close_matches(rest, known, n=1, cutoff=0.6)
        found.append((name, f"{prefix}{close[0]}" if close else None))
    return found


def _as_tuple(value: str | list[str]) -> tuple[str, ...]:
    items = _names(value)
    return tuple(dict.fromkeys(str(item) for item in items if str(item)))


def _configuration_error(exc: ValidationError, prefix: str) -> ConfigurationError:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error.get("loc") or ("?",)
        field = str(loc[0])
        problems.append(f"{prefix}{field.upper()}: {error.get('msg', 'invalid value')}")
    return ConfigurationError("invalid settings: " + "; ".join(problems))
