"""The service graph: every service of one app, built from the settings in one place.

:class:`~tokenward.fastapi.Auth` and the command line (``tokenward debug-token``, ``api-key``,
``jwks``, ``keys rotate``, ``limits clear``, ``access``) both take their services from
:class:`Services`, so they cannot drift: a token the CLI mints is one the app accepts (the same
secret, issuer, leeway, ``TOKEN_ALGORITHM`` and signing keys), an API key the CLI makes hashes
as the app's, a lock-out the CLI clears is the counter the app counts.

What is built, and from what (each node gets its collaborators when it is constructed; nothing
is patched in afterwards)::

    settings ─▶ secret ─┬─▶ limiter (LoginLimiter on the store, keyed by limiter_key(secret))
       (and AUTH_SECRET_PREVIOUS: the older keys and hashers of a rotation, beside each)
                        ├─▶ api_keys (ApiKeyService: ApiKeyHasher(secret) on the store)
                        └─▶ signing (DebugTokens + TOKEN_ALGORITHM's issuer / key ring)
    settings ─▶ store (STORE_URL, or the one given)
    store ─▶ lifecycle (SessionLifecycle) ─▶ session_check (REVOKE_ACCESS_TOKENS, listens)
    settings ─▶ debug_user ─┐
    signing, store, lifecycle, reidentify (accounts, debug_user) ─▶ tokens (TokenService)
    tokens, session_check, debug_user ─▶ provider (CustomProvider)   │ or, under Cognito,
    settings ─▶ cognito (CognitoVerifier) ─▶ provider (CognitoProvider)   │ or, under OIDC,
    settings ─▶ oidc (OidcVerifier: discovery, several issuers) ─▶ provider (OidcProvider)
    settings, store, tokens (sign-in) ─▶ oauth (ExternalSignIn: OAUTH_PROVIDERS)
    provider, api_keys, limiter (+ basic, gateway, the app's own) ─▶ strategies
    store (a UserStore), limiter, lifecycle, mailer (on_send, SMTP_URL), gate, sign_in_user
        ─▶ accounts (Accounts) ─▶ password_login (accounts; in development, then the
        debug user: outside development the debug login is off)
    tokens: an account session's refresh re-reads its user (disabled or deleted: refused);
        its access tokens carry amr, roles and the app's claims(user)

Each node is built the first time it is asked for and then kept (the CLI asks only for what
its command needs; :func:`build_services` asks for all of them, as an app starting must, so
that a bad setting fails start-up). Framework-free: nothing here imports FastAPI.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from tokenward._core import ApiKeyHasher, DebugTokens
from tokenward.access import AccessDefinition, access_set_claims
from tokenward.accounts import (
    AccountOptions,
    Accounts,
    MfaRequired,
    PasswordLogin,
    UserClaims,
    account_principal,
    password_hasher,
    password_policy,
    user_claims,
)
from tokenward.apikeys import ApiKeyService
from tokenward.authenticator import Authenticator, Mode
from tokenward.cognito import CognitoVerifier
from tokenward.exceptions import (
    ConfigurationError,
    InvalidCredentialsError,
    KeySetUnavailableError,
)
from tokenward.issuer import SigningKeys, build_signing_keys, rotate
from tokenward.keyring import KeyRing
from tokenward.mail import Mailer, OnSend, build_mailer
from tokenward.oauth import ExternalSignIn, build_external_sign_in
from tokenward.oidc import OidcProvider, OidcVerifier
from tokenward.principal import Principal
from tokenward.providers import (
    AuthProvider,
    CognitoProvider,
    CustomProvider,
    DebugUser,
    SessionCheck,
)
from tokenward.ratelimit import LoginLimiter, limiter_key
from tokenward.rbac import Roles
from tokenward.secondfactor import MfaBackend, SecondFactors
from tokenward.sessions import SessionLifecycle
from tokenward.settings import AuthSettings
from tokenward.signin import SecondFactorGate
from tokenward.stores import PasskeyStore, Store, open_store
from tokenward.stores.base import UserRecord, UserStore
from tokenward.strategies import (
    AccessTokenStrategy,
    ApiKeyStrategy,
    BasicCheck,
    BasicStrategy,
    GatewayStrategy,
    IntrospectionStrategy,
    Strategy,
)
from tokenward.tokens import (
    ClientInfo,
    ExtraClaims,
    Reidentify,
    TokenPair,
    TokenService,
    session_amr,
)

if TYPE_CHECKING:
    from tokenward.passkeys import PasskeyService

__all__ = [
    "TOKEN_KINDS",
    "Services",
    "build_services",
    "previous_tokens",
    "signing_keys",
    "token_service",
]

_log = logging.getLogger("tokenward")

TOKEN_KINDS = {"access": "access token", "id": "ID token", "any": "access or ID token"}
"""``COGNITO_TOKEN_USE`` → what the pool's tokens are called in messages and OpenAPI."""

BUILT_IN_STRATEGIES = ("jwt", "api_key", "basic", "gateway")


def signing_keys(settings: AuthSettings, secret: bytes | str) -> tuple[DebugTokens, SigningKeys]:
    """The native tokens under ``secret`` (``AUTH_SECRET``) and the access-token issuer of
    ``TOKEN_ALGORITHM``, with ``TOKEN_ISSUER``, ``LEEWAY`` and ``TOKEN_CACHE_SIZE``.
    ConfigurationError naming the variable when the signing keys cannot be had."""
    tokens = DebugTokens(
        secret,
        issuer=settings.token_issuer,
        leeway=settings.leeway,
        cache_size=settings.token_cache_size,
    )
    return tokens, build_signing_keys(settings, tokens, previous_tokens(settings))


def previous_tokens(settings: AuthSettings) -> tuple[DebugTokens, ...]:
    """A ``DebugTokens`` under each ``AUTH_SECRET_PREVIOUS`` (a secret rotation), which check
    the HS256 access tokens and find the refresh tokens made before it."""
    return tuple(
        DebugTokens(old, issuer=settings.token_issuer, leeway=settings.leeway)
        for old in settings.previous_secrets
    )


def token_service(
    settings: AuthSettings,
    store: Store,
    secret: bytes | str,
    clock: Callable[[], float] = time.time,
    *,
    lifecycle: SessionLifecycle | None = None,
    reidentify: Reidentify | None = None,
    keys: tuple[DebugTokens, SigningKeys] | None = None,
    extra_claims: ExtraClaims | None = None,
) -> tuple[TokenService, SigningKeys]:
    """The custom provider's :class:`TokenService` on ``store`` (lifetimes, reuse grace and
    session limit from the settings) and the signing keys its access tokens use (``keys``, or
    new ones from ``secret``); ``lifecycle`` is the one every session ends through (a new one
    on ``store`` when None); ``reidentify`` gives the user a refresh mints for;
    ``extra_claims`` adds claims to its access tokens (``ACCESS_SET_IN_TOKEN``'s access set)."""
    tokens, signing = signing_keys(settings, secret) if keys is None else keys
    service = TokenService(
        tokens,
        store,
        access=signing.access,
        access_lifetime=int(settings.access_token_lifetime.total_seconds()),
        refresh_lifetime=int(settings.refresh_token_lifetime.total_seconds()),
        reuse_grace=settings.refresh_reuse_grace.total_seconds(),
        max_sessions=settings.max_sessions_per_user,
        reidentify=reidentify,
        lifecycle=lifecycle,
        clock=clock,
        previous=previous_tokens(settings),
        extra_claims=extra_claims,
    )
    return service, signing


class Services:
    """The services of one app (see the module's drawing), each built on first use and kept.

    ``store`` replaces the one ``STORE_URL`` names; ``clock`` is every service's clock (tests);
    ``basic`` turns on the ``"basic"`` strategy; ``strategies`` adds named strategies;
    ``login_path`` is where the custom provider's tokens come from (for the 401's hint);
    ``warn=False`` leaves out the start-up warnings (a CLI command is not an app starting);
    ``access`` is the entitlements' definition (``ACCESS_SET_IN_TOKEN`` puts its access set in
    the custom provider's access tokens); ``on_send`` is the application's account mailer
    (without it ``SMTP_URL``'s built-in sender, :mod:`tokenward.smtp`, or the log in
    development: :func:`tokenward.mail.build_mailer`); ``claims`` adds the app's claims to an
    account's access tokens from its user record; ``gate`` is the second-factor gate password
    sign-in asks (None: none).
    The settings are not checked here: :func:`build_services` does, as ``Auth`` does.
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        basic: BasicCheck | None = None,
        strategies: Mapping[str, Strategy] | None = None,
        login_path: str | None = None,
        warn: bool = True,
        access: AccessDefinition | None = None,
        on_send: OnSend | None = None,
        claims: UserClaims | None = None,
        gate: SecondFactorGate | None = None,
    ) -> None:
        self.settings = settings
        self._access = access
        self._on_send = on_send
        self._claims = claims
        self.gate = gate
        self.clock = clock
        self._store = store
        self._basic = basic
        self._extra = dict(strategies or {})
        self.login_path = login_path if settings.auth_provider == "custom" else None
        self._warn = warn
        self._authenticators: dict[tuple[tuple[str | Strategy, ...], Mode], Authenticator] = {}

    def __repr__(self) -> str:
        return f"<Services provider={self.settings.auth_provider!r}>"

    @property
    def custom(self) -> bool:
        """Whether the custom provider issues the tokens (else Cognito or an OIDC issuer)."""
        return self.settings.auth_provider == "custom"

    @functools.cached_property
    def store(self) -> Store:
        """The store ``STORE_URL`` names (not opened: ``await store.open()``), or the one given."""
        return open_store(self.settings.store_url) if self._store is None else self._store

    @functools.cached_property
    def secret(self) -> bytes:
        """``AUTH_SECRET``; without it a random one for this process: under the custom provider
        (development only: the settings check refuses it elsewhere) with a warning that tokens
        will not survive a restart; under Cognito it keys only the limiter's counter names."""
        settings = self.settings
        if settings.auth_secret is None:
            if self.custom and self._warn:
                settings.warn_random_secret()
            return secrets.token_bytes(32)
        return settings.auth_secret.get_secret_value().encode("utf-8")

    @functools.cached_property
    def limiter(self) -> LoginLimiter:
        """The login limiter (``LOGIN_MAX_FAILURES``...) on the store, its counters keyed by the
        secret."""
        settings = self.settings
        return LoginLimiter(
            self.store,
            key=limiter_key(self.secret),
            previous_keys=[limiter_key(old) for old in settings.previous_secrets],
            max_failures=settings.login_max_failures,
            failure_window=settings.login_failure_window.total_seconds(),
            max_per_address=settings.login_max_per_address,
            refresh_per_address=settings.refresh_max_per_address,
            clock=self.clock,
        )

    @functools.cached_property
    def api_keys(self) -> ApiKeyService | None:
        """The API keys, or None under Cognito without ``AUTH_SECRET``: a random per-process
        key would make every key unusable on other instances and after a restart."""
        settings = self.settings
        if settings.auth_secret is None and not self.custom:
            if "auth_strategies" in settings.model_fields_set and "api_key" in settings.strategies:
                raise ConfigurationError(
                    f"{settings.var('auth_strategies')} names api_key, which needs "
                    f"{settings.var('auth_secret')} (32 bytes or more, the same on every instance)"
                )
            if self._warn:
                _log.warning(
                    "tokenward: API keys are off: %s is not set (Bearer vk_… is refused)",
                    settings.var("auth_secret"),
                )
            return None
        return ApiKeyService(
            ApiKeyHasher(self.secret),
            self.store,
            cache_ttl=settings.api_key_cache_ttl,
            clock=self.clock,
            check_secret=settings.auth_secret is not None,
            previous=[ApiKeyHasher(old) for old in settings.previous_secrets],
        )

    # --- the custom provider ------------------------------------------------------------------

    @functools.cached_property
    def keys(self) -> tuple[DebugTokens, SigningKeys] | None:
        """The native tokens and ``TOKEN_ALGORITHM``'s signing keys (None under Cognito)."""
        return signing_keys(self.settings, self.secret) if self.custom else None

    @property
    def signing(self) -> SigningKeys | None:
        """The access tokens' signing keys (None under Cognito)."""
        keys = self.keys
        return None if keys is None else keys[1]

    @property
    def key_ring(self) -> KeyRing | None:
        """The ring that signs the access tokens; None for HS256 and for Cognito."""
        signing = self.signing
        return None if signing is None else signing.ring

    @functools.cached_property
    def lifecycle(self) -> SessionLifecycle | None:
        """The one life cycle every session ends through (None under Cognito)."""
        return SessionLifecycle(self.store, clock=self.clock) if self.custom else None

    @functools.cached_property
    def session_check(self) -> SessionCheck | None:
        """``REVOKE_ACCESS_TOKENS``: the session check, listening to the life cycle."""
        lifecycle = self.lifecycle
        if lifecycle is None or not self.settings.revoke_access_tokens:
            return None
        return SessionCheck(lifecycle, ttl=self.settings.session_check_cache_ttl, clock=self.clock)

    @functools.cached_property
    def debug_user(self) -> DebugUser | None:
        """The custom provider's debug user (None under Cognito)."""
        return DebugUser(self.settings) if self.custom else None

    @functools.cached_property
    def tokens(self) -> TokenService | None:
        """The custom provider's token service (None under Cognito): its refreshes
        re-identify through the debug user, its sessions end through :attr:`lifecycle`."""
        if self.keys is None or self.debug_user is None:
            return None
        service, _ = token_service(
            self.settings,
            self.store,
            self.secret,
            self.clock,
            lifecycle=self.lifecycle,
            reidentify=self._reidentify,
            keys=self.keys,
            extra_claims=self._extra_claims(),
        )
        return service

    @functools.cached_property
    def passkeys(self) -> PasskeyService | None:
        """Passkeys (WebAuthn, docs/passkeys.md) of the accounts: None unless the custom
        provider issues the tokens and ``WEBAUTHN_RP_ID`` is set (or it is development), and
        off, with a log line, when py_webauthn is not installed (unless ``WEBAUTHN_RP_ID`` asks
        for them: ConfigurationError). Sign-in goes through the accounts' ``sign_in_user``."""
        settings = self.settings
        if self.tokens is None:
            return None
        relying = settings.passkey_relying_party(settings.is_development)
        if relying is None:
            return None
        try:
            from tokenward.passkeys import PasskeyService
        except ConfigurationError:
            if settings.webauthn_rp_id is not None or settings.passkey_signin:
                raise
            _log.info("tokenward: passkeys are off: pip install 'tokenward[passkeys]'")
            return None
        rp_id, origins = relying
        return PasskeyService(
            cast("PasskeyStore", self.store),  # every backend store is one
            cast("UserStore", self.store),
            rp_id=rp_id,
            rp_name=settings.webauthn_rp_name,
            origins=origins,
            tokens=self.tokens,
            counters=self.store,
            sign_in=self.sign_in_user,  # the accounts' SignInUser
            signin_enabled=settings.passkey_signin,
            max_per_address=settings.login_max_per_address,
            lifecycle=self.lifecycle,  # a passkey added or revoked ends the other sessions
            clock=self.clock,
        )

    @functools.cached_property
    def second_factors(self) -> SecondFactors | None:
        """TOTP, recovery codes and step-up for the accounts (docs/mfa.md): the
        :class:`~tokenward.signin.SecondFactorGate` password sign-in asks. None unless the
        custom provider issues the tokens."""
        if self.tokens is None:
            return None
        settings = self.settings
        return SecondFactors(
            cast(MfaBackend, self.store),  # every backend store is one
            secret=self.secret,
            previous=settings.previous_secrets,
            sign_in=self.sign_in_user,
            tokens=self.tokens,
            issuer=settings.mfa_issuer or settings.token_issuer,
            max_attempts=settings.mfa_max_attempts,
            attempt_window=settings.mfa_attempt_window,
            token_ttl=settings.mfa_token_ttl,
            fresh_max_age=settings.mfa_fresh_max_age,
            lifecycle=self.lifecycle,  # a factor turned on or off ends the other sessions
            clock=self.clock,
        )

    def _extra_claims(self) -> ExtraClaims:
        """An access token's extra claims: the access set (``ACCESS_SET_IN_TOKEN``), and for
        an account's session its ``amr``, its ``roles`` and the app's ``claims(user)``."""
        access = (
            access_set_claims(self._access, self.store)
            if self.settings.access_set_in_token
            else None
        )
        hook = self._claims
        store = self.store

        async def extra(who: Principal) -> dict[str, Any]:
            out: dict[str, Any] = {}
            amr = session_amr(who)
            if amr and hook is not None and isinstance(store, UserStore):
                user = await store.get_user(who.subject)
                if user is not None:
                    out.update(await user_claims(hook, user))
            if access is not None:
                out.update(await access(who))
            if amr:
                out["amr"] = list(amr)
                roles = who.claims.get("roles")
                if roles:
                    out["roles"] = list(roles)
            return out

        return extra

    async def _reidentify(self, who: Principal, requested_scope: str | None) -> Principal | None:
        """The user a refresh mints for: an account's session (it has an ``amr``) re-reads its
        user (None when disabled or deleted: the refresh is refused, the session ends); the
        debug user's is read again from the settings, in development only (elsewhere the debug
        login is off, and a session it started earlier is refused)."""
        amr = session_amr(who)
        if amr:
            store = self.store
            user = await store.get_user(who.subject) if isinstance(store, UserStore) else None
            if user is None or user.disabled:
                return None
            return account_principal(user, amr, session_id=who.session_id)
        assert self.debug_user is not None
        if not self.settings.is_development:
            return None
        return self.debug_user.reidentify(who, requested_scope)

    # --- accounts (docs/accounts.md) ----------------------------------------------------------

    @functools.cached_property
    def mailer(self) -> Mailer | None:
        """Where account mail goes (:func:`tokenward.mail.build_mailer`): ``on_send``, else the
        built-in SMTP sender when ``SMTP_URL`` is set (:mod:`tokenward.smtp`, with ``SMTP_FROM``
        and ``APP_URL``), else the log in development, else None."""
        return build_mailer(self.settings, self._on_send)

    @functools.cached_property
    def accounts(self) -> Accounts | None:
        """The account service: the custom provider's, on a store that keeps users (None under
        Cognito or OIDC, or on a store without a UserStore)."""
        store, lifecycle = self.store, self.lifecycle
        if not self.custom or lifecycle is None or not isinstance(store, UserStore):
            return None
        settings = self.settings
        return Accounts(
            store,
            hasher=password_hasher(settings),
            policy=password_policy(settings),
            mailer=self.mailer,
            limiter=self.limiter,
            sign_in_user=self.sign_in_user,
            lifecycle=lifecycle,
            secret=self.secret,
            options=AccountOptions.from_settings(settings),
            gate=self.second_factors if self.gate is None else self.gate,
            clock=self.clock,
        )

    def require_accounts(self) -> Accounts:
        """The account service; ConfigurationError when there is none."""
        if self.accounts is None:
            raise ConfigurationError(
                f"accounts need {self.settings.var('auth_provider')}=custom and a store that "
                "keeps users (SQLite, PostgreSQL or memory)"
            )
        return self.accounts

    @functools.cached_property
    def password_login(self) -> PasswordLogin | None:
        """``POST /v1/auth/login``: accounts first, then, in development only, the debug user
        (None under Cognito). Outside development (``ALLOW_CUSTOM_AUTH_IN_PRODUCTION``)
        accounts alone sign in."""
        if self.custom_provider is None:
            return None
        debug = self.custom_provider if self.settings.is_development else None
        return PasswordLogin(self.accounts, debug)

    async def login(
        self, email: str, password: str, scope: str | None = None
    ) -> TokenPair | MfaRequired | None:
        """:attr:`password_login` for server-side code (``Auth.login``); ConfigurationError
        under another provider than the custom one."""
        self.require_custom()
        assert self.password_login is not None
        return await self.password_login.login(email, password, scope)

    async def sign_in_user(
        self,
        user: UserRecord,
        *,
        client: ClientInfo | None = None,
        scope: str | None = None,
        amr: Sequence[str] = ("pwd",),
    ) -> TokenPair:
        """:class:`tokenward.signin.SignInUser`: the session and first token pair of ``user``,
        already proven by the caller; ``amr`` goes in the access tokens and stays with the
        session, and the sign-in is recorded on the user (``last_sign_in_at``: every way of
        signing in, after its last factor). InvalidCredentialsError for a disabled user."""
        if user.disabled:
            raise InvalidCredentialsError("Incorrect email or password.")
        tokens = self.require_custom()[1]
        who = account_principal(user, tuple(amr))
        pair = await tokens.start(who, client=client, requested_scope=scope, amr=amr)
        users: Any = self.store  # every backend is a UserStore
        await users.record_sign_in(user.id, now=self.clock())
        return pair

    # --- Cognito ------------------------------------------------------------------------------

    @functools.cached_property
    def cognito(self) -> CognitoVerifier | None:
        """The user pool's verifier (None unless ``AUTH_PROVIDER=cognito``)."""
        if self.settings.auth_provider != "cognito":
            return None
        settings = self.settings
        use = settings.cognito_token_use  # COGNITO_TOKEN_USE: access, id or any
        token_use: Literal["access", "id"] | None = None if use == "any" else use
        return CognitoVerifier(
            settings.cognito_region,
            settings.cognito_user_pool_id,
            client_ids=settings.cognito_client_ids,
            jwks_url=settings.cognito_jwks_url,
            issuer=settings.cognito_issuer,
            cache_size=settings.token_cache_size,
            trust_gateway=settings.trust_gateway_claims,
            leeway=settings.leeway,
            token_use=token_use,
        )

    # --- any OpenID Connect issuer (docs/oidc.md) ---------------------------------------------

    @functools.cached_property
    def oidc(self) -> OidcVerifier | None:
        """The issuers' verifier (None unless ``AUTH_PROVIDER=oidc``)."""
        if self.settings.auth_provider != "oidc":
            return None
        settings = self.settings
        return OidcVerifier(
            issuers=settings.oidc_issuer_configs(),
            leeway=settings.leeway,
            cache_size=settings.token_cache_size,
        )

    # --- sign-in with an external provider (docs/oidc.md, "External sign-in") -----------------

    @functools.cached_property
    def oauth(self) -> ExternalSignIn | None:
        """``OAUTH_PROVIDERS``' sign-in (None when it names none). Its sessions start through
        :meth:`sign_in_user`, as every other way of signing in does (``amr`` ``ext``)."""
        if not self.settings.oauth_provider_names:
            return None
        self.require_custom()
        users: Any = self.store  # every backend is a UserStore and a LinkedIdentityStore too
        return build_external_sign_in(
            self.settings, store=users, sign_in=self.sign_in_user, clock=self.clock
        )

    # --- the provider and the strategies ------------------------------------------------------

    @functools.cached_property
    def provider(self) -> AuthProvider:
        """The provider of ``AUTH_PROVIDER``: custom, Cognito or OIDC, never two."""
        size = self.settings.token_cache_size
        if self.custom and self._warn:
            self.settings.warn_custom_auth()
        if self.tokens is not None:
            return CustomProvider(
                self.tokens,
                self.settings,
                session_check=self.session_check,
                memo_size=size,
                user=self.debug_user,
            )
        if self.oidc is not None:
            return OidcProvider(self.oidc, memo_size=size)
        assert self.cognito is not None
        return CognitoProvider(self.cognito, memo_size=size)

    @property
    def custom_provider(self) -> CustomProvider | None:
        """The provider when it is the custom one (sign-in, refresh, logout)."""
        provider = self.provider
        return provider if isinstance(provider, CustomProvider) else None

    @property
    def hint(self) -> str:
        """What a 401 says to send."""
        if self.custom:
            where = f" (POST {self.login_path} returns one)" if self.login_path else ""
            return f"an access token{where}"
        if self.oidc is not None:
            return "an access token of " + " or ".join(self.oidc.issuers) + " (Bearer <token>)"
        kind = TOKEN_KINDS[self.settings.cognito_token_use]
        return f"a Cognito {kind} (Authorization: Bearer <token>)"

    @functools.cached_property
    def strategies(self) -> dict[str, Strategy]:
        """The named strategies: ``jwt`` (the provider's tokens), ``api_key`` (when API keys
        are on), ``basic`` (with a check), ``gateway`` (``TRUST_GATEWAY_CLAIMS``), then the
        app's own (a name taken already: ConfigurationError)."""
        found: dict[str, Strategy] = {"jwt": AccessTokenStrategy(self.provider, hint=self.hint)}
        if self.api_keys is not None:
            found["api_key"] = ApiKeyStrategy(self.api_keys)
        if self._basic is not None:
            found["basic"] = BasicStrategy(
                self._basic, realm=self.settings.basic_realm, guard=self.limiter
            )
        if self.cognito is not None and self.settings.trust_gateway_claims:
            found["gateway"] = GatewayStrategy(self.cognito)
        settings = self.settings
        if settings.oidc_introspection_url and settings.oidc_client_secret is not None:
            found["introspection"] = IntrospectionStrategy(
                settings.oidc_introspection_url,
                client_id=settings.oidc_client_id or "",
                client_secret=settings.oidc_client_secret.get_secret_value(),
                audience=settings.oidc_audience_list or None,
                leeway=settings.leeway,
                max_cache_ttl=settings.oidc_introspection_cache_ttl,
                mapping=self.oidc.configs[0].mapping if self.oidc is not None else None,
            )
        for name, strategy in self._extra.items():
            if name in found:
                raise ConfigurationError(f"a strategy named {name!r} exists already")
            found[name] = strategy
        return found

    @functools.cached_property
    def default_strategies(self) -> tuple[str, ...]:
        """``AUTH_STRATEGIES`` as this app has them (``api_key`` only when API keys are on;
        ``gateway`` first under ``TRUST_GATEWAY_CLAIMS``)."""
        names = tuple(
            n for n in self.settings.strategies if n != "api_key" or self.api_keys is not None
        )
        if "gateway" in self.strategies:
            names = tuple(dict.fromkeys(("gateway", *names)))
        return names

    @functools.cached_property
    def roles(self) -> Roles:
        """``ROLES``, ``SCOPES``... (checked by ``settings.check()``)."""
        return self.settings.rbac()

    def authenticator(self, names: tuple[str | Strategy, ...], mode: Mode) -> Authenticator:
        """The authenticator of ``names`` (strategy names or Strategy objects) in ``mode``, made
        once per (names, mode) and kept; ConfigurationError for a name not available here."""
        found = self._authenticators.get((names, mode))
        if found is None:
            chosen: list[Strategy] = []
            for item in names:
                if isinstance(item, str):
                    strategy = self.strategies.get(item)
                    if strategy is None:
                        raise ConfigurationError(self.missing(item))
                    item = strategy
                chosen.append(item)
            found = self._authenticators[names, mode] = Authenticator(chosen, mode)
        return found

    def effective_scopes(self, principal: Principal) -> tuple[str, ...]:
        """What ``principal`` may do: its credential's scopes, then those its roles grant
        (:meth:`tokenward.rbac.Roles.effective_scopes`: its groups, and an account's roles).
        An API key's are exactly those it was given: its owner's roles do not widen a key made
        narrow on purpose."""
        if principal.credential_type == "api_key" or not self.roles.roles:
            return principal.scopes
        return self.roles.effective_scopes(principal)

    def require_custom(self) -> tuple[CustomProvider, TokenService]:
        """The custom provider and its token service; ConfigurationError under another provider."""
        provider, tokens = self.custom_provider, self.tokens
        if provider is None or tokens is None:
            raise ConfigurationError(
                f"{self.settings.var('auth_provider')}={self.settings.auth_provider}: sign-in "
                "happens at the identity provider"
            )
        return provider, tokens

    def require_api_keys(self) -> ApiKeyService:
        """The API keys; ConfigurationError when they are off (Cognito without the secret)."""
        if self.api_keys is None:
            raise ConfigurationError(
                f"API keys need {self.settings.var('auth_secret')} (32 bytes or more): their "
                "hashes are keyed with it, and every instance must share it"
            )
        return self.api_keys

    def missing(self, name: str) -> str:
        """Why the strategy ``name`` is not available here, and how to get it."""
        how = {
            "basic": "pass Auth(settings, basic=check)",
            "gateway": f"set {self.settings.var('trust_gateway_claims')}=true (Cognito only)",
            "api_key": "API keys need the api_key strategy",
        }.get(name, "pass it in Auth(settings, strategies={...})")
        return f"the strategy {name!r} is not available in this app: {how}"

    def published_ring(self) -> KeyRing:
        """The ring whose public keys ``JWKS_PATH`` publishes; ConfigurationError when there is
        nothing to publish (HS256 or Cognito), so an app including the route does not start."""
        var = self.settings.var
        if self.key_ring is not None:
            return self.key_ring
        if self.signing is None:
            raise ConfigurationError(
                f"{var('auth_provider')}={self.settings.auth_provider}: the identity provider "
                "publishes its own keys; auth.jwks_router serves the custom provider's"
            )
        raise ConfigurationError(
            f"{var('token_algorithm')}=HS256 signs with a shared secret: there is no "
            f"public key to publish; set {var('token_algorithm')} to ES256, EdDSA, RS256 "
            "or PS256 for a JWKS endpoint"
        )

    def rotate_keys(self) -> str:
        """Rotate the signing keys (:func:`tokenward.issuer.rotate`); returns the new kid."""
        signing = self.signing
        if signing is None or signing.ring is None:
            raise ConfigurationError(
                f"no key ring to rotate: {self.settings.var('token_algorithm')} must be "
                "asymmetric (custom provider)"
            )
        return rotate(signing)

    async def start(self) -> None:
        """What an app does at start-up: fetch the Cognito keys (a failure is logged: requests
        get 503 until they come), open the store (raising if it cannot), drop expired sessions
        and counters, and say when ``AUTH_SECRET`` is not the one the API keys were made with."""
        if self.cognito is not None:
            try:
                await self.cognito.prefetch_async()
            except KeySetUnavailableError as exc:
                _log.warning("tokenward: cannot prefetch the Cognito keys: %s", exc)
        if self.oidc is not None:
            try:
                await self.oidc.prefetch_async()
            except KeySetUnavailableError as exc:  # start anyway: requests get 503 until it works
                _log.warning("tokenward: cannot discover the OIDC issuer's keys: %s", exc)
        await self.store.open()
        try:
            now = self.clock()
            await self.store.purge_refresh_sessions(before=now)
            await self.store.purge_counters(before=now)
            if self.oauth is not None:
                await self.oauth.links.purge_oauth_states(before=now)
            purge = getattr(self.store, "purge_passkey_challenges", None)
            if self.custom and purge is not None:  # ceremonies never finished
                await purge(before=now)
            purge = getattr(self.store, "purge_pending_sign_ins", None)
            if self.custom and purge is not None:  # sign-ins that waited for a factor in vain
                await purge(before=now)
            if self.api_keys is not None and not await self.api_keys.verify_secret():
                _log.error(
                    "tokenward: %s is not the one the store's API keys were made with: every "
                    "key is refused here, and creating keys is refused (503)",
                    self.settings.var("auth_secret"),
                )
        except BaseException:
            await self.store.close()
            raise

    async def stop(self) -> None:
        """What an app does at shutdown: close the store."""
        await self.store.close()


def build_services(
    settings: AuthSettings,
    *,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    basic: BasicCheck | None = None,
    strategies: Mapping[str, Strategy] | None = None,
    login_path: str | None = None,
    access: AccessDefinition | None = None,
    on_send: OnSend | None = None,
    claims: UserClaims | None = None,
    gate: SecondFactorGate | None = None,
) -> Services:
    """Every service of an app, built now: the settings checked (ConfigurationError for any
    they refuse), then the store, limiter, provider, API keys and strategies, in the order
    ``Auth`` has always built them (so the start-up warnings come in the same order)."""
    settings.check()
    services = Services(
        settings,
        store=store,
        clock=clock,
        basic=basic,
        strategies=strategies,
        login_path=login_path,
        access=access,
        on_send=on_send,
        claims=claims,
        gate=gate,
    )
    services.store  # noqa: B018 - built now, in this order
    services.limiter  # noqa: B018
    services.provider  # noqa: B018
    services.strategies  # noqa: B018
    services.default_strategies  # noqa: B018
    services.oauth  # noqa: B018
    services.roles  # noqa: B018
    services.accounts  # noqa: B018
    return services
