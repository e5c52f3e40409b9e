"""Any OpenID Connect issuer as a resource server sees it: ``OidcVerifier`` and ``OidcProvider``.

An issuer is configured by its exact ``iss`` and the audiences its tokens must name. Its keys are
found through discovery: ``{issuer}/.well-known/openid-configuration`` is fetched once, its
``issuer`` must equal the configured one exactly, and its ``jwks_uri`` is then fetched and cached
like any :class:`~tokenward.RemoteJWKS` (:class:`OidcDiscovery` *is* one: the document is read
inside the key set's first fetch, so the native cache's policy — cooldown, single flight, stale
bound — governs both). Until discovery works, no keys can be had and a server answers 503, never
401; a document that names another issuer is refused the same way, with an error logged on the
``tokenward.jwks`` logger.

Several issuers may be accepted at once. The token's unverified ``iss`` only picks the issuer
whose verifier then checks everything (signature with *that* issuer's keys, ``iss``, ``aud``,
times); an ``iss`` that names no configured issuer is refused before any key is fetched.

Claims become a :class:`~tokenward.Principal` through a :class:`ClaimMapping`: groups from a claim
(``groups`` by default; a dotted path reaches nested claims such as Keycloak's
``realm_access.roles``), roles from another (added to the groups, which double as roles), scopes
from ``scope``/``scp`` (a space-separated string or an array). :data:`PRESETS` hold the shapes of
Auth0, Okta, Keycloak, Microsoft Entra ID and Google (docs/oidc.md).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tokenward import _core
from tokenward._api import unverified_claims, unverified_header
from tokenward._verifier import Verifier
from tokenward.caches import PrincipalMemo
from tokenward.exceptions import (
    ConfigurationError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingClaimError,
)
from tokenward.jwks import RemoteJWKS, _FetchError, _is_loopback
from tokenward.principal import Principal

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "PRESETS",
    "ClaimMapping",
    "OidcDiscovery",
    "OidcIssuer",
    "OidcProvider",
    "OidcVerifier",
    "Preset",
    "claim_at",
    "discovery_url",
]

_log = logging.getLogger("tokenward")

ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512",
    "EdDSA",
)  # fmt: skip
"""What an OIDC verifier allows by default: every public-key algorithm. Which one a token may use
is decided by the key it names (an RSA key never checks an ES256 signature, a key with an
``alg`` only that one); a published key set never holds an HMAC key."""

TENANT_PLACEHOLDER = "{tenantid}"
DISCOVERY_PATH = "/.well-known/openid-configuration"
DEFAULT_DOCUMENT_MAX_BYTES = 256 * 1024
DEFAULT_MEMO_SIZE = 1024
_KID = re.compile(r"[A-Za-z0-9._~+/=-]{1,128}")
_TENANT = re.compile(r"[A-Za-z0-9._-]{1,64}")


def discovery_url(issuer: str) -> str:
    """Where an issuer publishes its metadata (OpenID Connect Discovery 1.0 §4): the issuer
    without its trailing slash, then ``/.well-known/openid-configuration``."""
    return issuer.rstrip("/") + DISCOVERY_PATH


def _check_url(what: str, url: Any, *, allow_http: bool) -> str:
    """``url`` if it is absolute and https (http only on a loopback host or with
    ``allow_http``); ConfigurationError otherwise."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an absolute https URL, not {url!r}")
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{what} {url!r} is plain http: anyone on the path could swap the keys; use https "
            "(http is accepted on loopback hosts only)"
        )
    if parts.username or parts.password or parts.fragment:
        raise ConfigurationError(f"{what} {url!r} must hold no credentials and no fragment")
    return str(url)


# --- discovery --------------------------------------------------------------------------------


class OidcDiscovery(RemoteJWKS):
    """The key set of an issuer found through discovery: a :class:`~tokenward.RemoteJWKS` whose
    first fetch reads ``url`` (the discovery document, at most ``document_max_bytes``), checks
    that its ``issuer`` is ``issuer`` exactly, and takes its ``jwks_uri`` (https, or http on
    loopback) for this and every later fetch. The document is read once per process; while it
    cannot be read (down, another issuer, no ``jwks_uri``) the fetch fails as any key fetch
    fails: no keys, KeySetUnavailableError (503), retried after the cooldown. The other keyword
    arguments are RemoteJWKS's.

    ``issuer`` may hold ``{tenantid}`` (Entra's multi-tenant documents name that template as
    their issuer); it must then be in the document as it is.
    """

    def __init__(
        self,
        url: str,
        *,
        issuer: str,
        document_max_bytes: int = DEFAULT_DOCUMENT_MAX_BYTES,
        allow_http: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(url, allow_http=allow_http, **options)
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("the issuer to discover must be a non-empty string")
        if not isinstance(document_max_bytes, int) or not 64 <= document_max_bytes <= (1 << 20):
            raise ConfigurationError("document_max_bytes must be between 64 bytes and 1 MiB")
        self.issuer = issuer
        self._document_max_bytes = document_max_bytes
        self._allow_http = allow_http
        self._jwks_uri: str | None = None
        self._document: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<OidcDiscovery {self.url!r} jwks_uri={self._jwks_uri!r}>"

    @property
    def jwks_uri(self) -> str | None:
        """The key set's URL from the document; None until the document has been read."""
        return self._jwks_uri

    @property
    def document(self) -> dict[str, Any] | None:
        """The discovery document as read (None until it has been)."""
        return None if self._document is None else dict(self._document)

    def _read_document(self, body: bytes) -> str:
        """The ``jwks_uri`` of a good document; a non-retried fetch error otherwise."""
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise _FetchError("the discovery document is not JSON", retry=False) from None
        if not isinstance(document, dict):
            raise _FetchError("the discovery document is not a JSON object", retry=False)
        named = document.get("issuer")
        if named != self.issuer:
            shown = named if isinstance(named, str) else type(named).__name__
            raise _FetchError(
                f"the discovery document names the issuer {str(shown)[:200]!r}, not the "
                f"configured {self.issuer!r}: refused (its keys are not this issuer's)",
                retry=False,
            )
        uri = document.get("jwks_uri")
        try:
            _check_url("jwks_uri", uri, allow_http=self._allow_http)
        except ConfigurationError as exc:
            raise _FetchError(f"the discovery document's {exc}", retry=False) from None
        self._document = document
        return str(uri)

    def _download_sync(self) -> bytes:
        if self._jwks_uri is None:
            document = self._get_sync(self.url, self._document_max_bytes)
            self._jwks_uri = self._read_document(document)
            _log.info("tokenward: %s publishes its keys at %s", self.issuer, self._jwks_uri)
        return self._get_sync(self._jwks_uri, self._max_bytes)

    async def _download_async(self) -> bytes:
        if self._jwks_uri is None:
            document = await self._get_async(self.url, self._document_max_bytes)
            self._jwks_uri = self._read_document(document)
            _log.info("tokenward: %s publishes its keys at %s", self.issuer, self._jwks_uri)
        return await self._get_async(self._jwks_uri, self._max_bytes)


# --- claim mapping ----------------------------------------------------------------------------


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim named ``path``, or None. A name present as it is wins (``cognito:groups``,
    Auth0's ``https://example.com/roles``); otherwise a dotted path walks nested objects
    (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClaimError(f"the {path!r} claim must be a list of strings")
    return value


@dataclass(frozen=True)
class ClaimMapping:
    """Where an issuer's tokens carry groups, roles, scopes and email.

    ``groups_claim`` and ``roles_claim`` (None: none) are claim names or dotted paths whose
    value must be a list of strings (anything else refuses the token: dropping odd members would
    let ``[1, "root"]`` stand for ``["root"]``); roles join the groups, which double as roles
    (:mod:`tokenward.rbac`). ``scope_claims`` are read in order, each a space-separated string
    (``scope``; Entra's ``scp``) or a list of strings (Okta's ``scp``, Auth0's ``permissions``).
    """

    groups_claim: str | None = "groups"
    roles_claim: str | None = None
    scope_claims: tuple[str, ...] = ("scope", "scp")
    email_claim: str | None = "email"

    def __post_init__(self) -> None:
        for name in ("groups_claim", "roles_claim", "email_claim"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(f"{name} must be a claim name or a dotted path")
        scopes = (self.scope_claims,) if isinstance(self.scope_claims, str) else self.scope_claims
        if not all(isinstance(s, str) and s.strip() for s in scopes):
            raise ConfigurationError("scope_claims must be claim names")
        object.__setattr__(self, "scope_claims", tuple(scopes))

    def groups(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        out: list[str] = []
        for path in (self.groups_claim, self.roles_claim):
            if path is None:
                continue
            value = claim_at(claims, path)
            if value is not None:
                out.extend(_string_list(value, path))
        return tuple(dict.fromkeys(out))

    def scopes(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        out: list[str] = []
        for path in self.scope_claims:
            value = claim_at(claims, path)
            if value is None:
                continue
            out.extend(value.split() if isinstance(value, str) else _string_list(value, path))
        return tuple(dict.fromkeys(out))

    def principal(self, claims: Mapping[str, Any], *, provider: str = "oidc") -> Principal:
        """The Principal of verified claims (``sub`` required)."""
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidClaimError("the token has no usable sub claim")
        email = claim_at(claims, self.email_claim) if self.email_claim else None
        return Principal(
            subject=sub,
            credential_type="access_token",
            email=email if isinstance(email, str) else None,
            groups=self.groups(claims),
            scopes=self.scopes(claims),
            provider=provider,
            claims=claims,
        )


@dataclass(frozen=True)
class Preset:
    """The shape of one provider's tokens: its claim mapping, extra ``iss`` spellings it
    uses, the claim naming the tenant (for a ``{tenantid}`` issuer), and a check of the
    configured issuer (a message when it is not of the provider's form, else None)."""

    name: str
    claims: ClaimMapping
    issuer_form: str
    tenant_claim: str | None = None
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def check_issuer(self, issuer: str) -> str | None:
        if self.name == "auth0" and not issuer.endswith("/"):
            return "Auth0's iss ends with a slash: https://{tenant}.auth0.com/"
        if self.name == "keycloak" and "/realms/" not in issuer:
            return "Keycloak's iss is {base}/realms/{realm}"
        if self.name == "entra" and not issuer.rstrip("/").endswith("/v2.0"):
            return (
                "the entra preset is for v2.0 tokens: https://login.microsoftonline.com/"
                "{tenant id}/v2.0 (set accessTokenAcceptedVersion to 2 in the app manifest)"
            )
        if self.name == "google" and issuer != "https://accounts.google.com":
            return "Google's iss is https://accounts.google.com"
        return None


PRESETS: dict[str, Preset] = {
    "auth0": Preset(
        "auth0",
        ClaimMapping(groups_claim="groups", scope_claims=("scope", "permissions")),
        "https://{tenant}.auth0.com/",
    ),
    "okta": Preset(
        "okta",
        ClaimMapping(groups_claim="groups", scope_claims=("scp", "scope")),
        "https://{org}.okta.com/oauth2/default",
    ),
    "keycloak": Preset(
        "keycloak",
        ClaimMapping(groups_claim="groups", roles_claim="realm_access.roles"),
        "{base}/realms/{realm}",
    ),
    "entra": Preset(
        "entra",
        ClaimMapping(groups_claim="groups", roles_claim="roles", scope_claims=("scp",)),
        "https://login.microsoftonline.com/{tid}/v2.0",
        tenant_claim="tid",
    ),
    "google": Preset(
        "google",
        ClaimMapping(groups_claim=None, scope_claims=("scope",)),
        "https://accounts.google.com",
        aliases={"https://accounts.google.com": ("accounts.google.com",)},
    ),
}
"""The providers whose token shapes are known (docs/oidc.md)."""


# --- issuers ----------------------------------------------------------------------------------


def _names(value: str | Iterable[str] | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigurationError(f"{what} must be non-empty strings")
    return tuple(dict.fromkeys(v.strip() for v in items))


@dataclass(frozen=True)
class OidcIssuer:
    """One accepted issuer.

    ``issuer`` is the exact ``iss`` of its tokens (https; http on loopback hosts only).
    ``audience`` (one or several) is required: a resource server accepts only tokens minted for
    it. ``preset`` (a key of :data:`PRESETS`) gives the claim mapping and the issuer's other
    spellings; ``claims`` replaces the mapping. An issuer holding ``{tenantid}`` (Entra's
    multi-tenant form) needs ``tenants``: the allow-list of tenant ids whose tokens are accepted;
    the token's tenant claim (``tid``) must be one of them and its ``iss`` the template with
    that id. ``discovery_url`` replaces ``{issuer}/.well-known/openid-configuration`` (for a
    ``{tenantid}`` issuer it defaults to the template with ``common``); ``jwks_url`` skips
    discovery and fetches the keys there.
    """

    issuer: str
    audience: tuple[str, ...]
    preset: str | None = None
    claims: ClaimMapping | None = None
    tenants: tuple[str, ...] = ()
    discovery_url: str | None = None
    jwks_url: str | None = None
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        issuer = self.issuer
        if not isinstance(issuer, str) or not issuer or issuer != issuer.strip():
            raise ConfigurationError(f"the OIDC issuer must be a URL, not {issuer!r}")
        _check_url("the OIDC issuer", issuer.replace(TENANT_PLACEHOLDER, "t"), allow_http=False)
        object.__setattr__(self, "audience", _names(self.audience, "the audiences"))
        if not self.audience:
            raise ConfigurationError(
                f"the OIDC issuer {issuer} needs an audience (OIDC_AUDIENCE): the resource "
                "server's own identifier, which its tokens must name in 'aud'"
            )
        preset = None
        if self.preset is not None:
            preset = PRESETS.get(self.preset)
            if preset is None:
                raise ConfigurationError(
                    f"unknown OIDC preset {self.preset!r}: one of {', '.join(PRESETS)}"
                )
            problem = preset.check_issuer(issuer)
            if problem:
                raise ConfigurationError(
                    f"the OIDC issuer {issuer!r} is not of its preset: {problem}"
                )
        if self.claims is None:
            object.__setattr__(self, "claims", preset.claims if preset else ClaimMapping())
        tenants = _names(self.tenants, "the tenants")
        for tenant in tenants:
            if not _TENANT.fullmatch(tenant):
                raise ConfigurationError(f"{tenant!r} is not a tenant id")
        object.__setattr__(self, "tenants", tenants)
        if (TENANT_PLACEHOLDER in issuer) != bool(tenants):
            raise ConfigurationError(
                f"an issuer with {TENANT_PLACEHOLDER} needs an allow-list of tenants "
                "(OIDC_TENANTS), and the tenants need such an issuer"
            )
        extra = preset.aliases.get(issuer, ()) if preset else ()
        object.__setattr__(self, "aliases", tuple(dict.fromkeys((*self.aliases, *extra))))
        for url in (self.discovery_url, self.jwks_url):
            if url is not None:
                _check_url("the discovery or JWKS URL", url, allow_http=False)

    @property
    def mapping(self) -> ClaimMapping:
        return self.claims or ClaimMapping()

    @property
    def tenant_claim(self) -> str:
        preset = PRESETS.get(self.preset or "")
        return (preset.tenant_claim if preset else None) or "tid"

    @property
    def templated(self) -> bool:
        return TENANT_PLACEHOLDER in self.issuer

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every ``iss`` accepted: the issuer (each tenant's, for a template), then aliases."""
        if self.templated:
            first = [self.issuer.replace(TENANT_PLACEHOLDER, t) for t in self.tenants]
        else:
            first = [self.issuer]
        return tuple(dict.fromkeys((*first, *self.aliases)))

    @property
    def metadata_url(self) -> str:
        if self.discovery_url is not None:
            return self.discovery_url
        return discovery_url(self.issuer.replace(TENANT_PLACEHOLDER, "common"))


class _Entry:
    """The verifier of one configured issuer, over its key source."""

    __slots__ = ("config", "keys", "verifier")

    def __init__(self, config: OidcIssuer, keys: RemoteJWKS, verifier: Verifier) -> None:
        self.config = config
        self.keys = keys
        self.verifier = verifier

    def check(self, claims: dict[str, Any]) -> dict[str, Any]:
        """What the native verifier cannot say: a templated issuer's tenant."""
        config = self.config
        if config.templated:
            tenant = claims.get(config.tenant_claim)
            if tenant is None:
                raise MissingClaimError(f"the token has no {config.tenant_claim!r} claim")
            if not isinstance(tenant, str) or tenant not in config.tenants:
                raise InvalidIssuerError("the token's tenant is not an accepted one")
            if claims.get("iss") != config.issuer.replace(TENANT_PLACEHOLDER, tenant):
                raise InvalidIssuerError("the token's iss is not its tenant's issuer")
        elif config.preset == "entra":
            tenant = claims.get("tid")
            segments = urlsplit(config.issuer).path.split("/")  # "", "{tid}", "v2.0"
            if not isinstance(tenant, str) or len(segments) < 2 or segments[1] != tenant:
                raise InvalidIssuerError("the token's tenant is not its issuer's")
        return claims


class OidcVerifier:
    """Verifies the access (or ID) tokens of one or several OpenID Connect issuers.

    ::

        oidc = OidcVerifier(issuer="https://example.okta.com/oauth2/default",
                            audience="api://default", preset="okta")
        claims = await oidc.verify_async(token)
        principal = oidc.identity(claims)

    ``issuers=[OidcIssuer(...), ...]`` accepts several (the keyword form adds one more, first).
    ``leeway`` is the clock skew allowed on ``exp``/``nbf``/``iat``; ``algorithms`` the allow-list
    (every public-key algorithm by default: the key decides); ``cache_size`` as for
    :class:`~tokenward.Verifier`. Other keyword arguments (``ttl``, ``cooldown``, ...) go to each
    issuer's key set (:class:`OidcDiscovery`, or a RemoteJWKS for a ``jwks_url``). Issuers that
    share a discovery or JWKS URL share one key set.
    """

    def __init__(
        self,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        *,
        preset: str | None = None,
        claims: ClaimMapping | None = None,
        tenants: Sequence[str] = (),
        discovery_url: str | None = None,
        jwks_url: str | None = None,
        issuers: Sequence[OidcIssuer] = (),
        leeway: float = 0.0,
        algorithms: Sequence[str] = ASYMMETRIC_ALGORITHMS,
        cache_size: int = 0,
        **jwks_options: Any,
    ) -> None:
        configs = list(issuers)
        if issuer is not None:
            configs.insert(
                0,
                OidcIssuer(
                    issuer=issuer,
                    audience=(audience,) if isinstance(audience, str) else tuple(audience or ()),
                    preset=preset,
                    claims=claims,
                    tenants=tuple(tenants),
                    discovery_url=discovery_url,
                    jwks_url=jwks_url,
                ),
            )
        elif audience is not None or preset is not None or tenants or jwks_url or discovery_url:
            raise ConfigurationError("issuer= is required with audience= and preset=")
        if not configs:
            raise ConfigurationError(
                "OidcVerifier needs an issuer: issuer= and audience=, or issuers="
            )
        if any(a.startswith("HS") for a in algorithms):
            raise ConfigurationError("an OIDC issuer's tokens are checked with public keys only")
        self._entries: dict[str, _Entry] = {}
        self._primary: list[_Entry] = []
        sources: dict[str, RemoteJWKS] = {}
        for config in configs:
            if any(iss in self._entries for iss in config.accepted):
                raise ConfigurationError(f"the OIDC issuer {config.issuer} is given twice")
            source: RemoteJWKS | None
            if config.jwks_url is not None:
                source = sources.get(config.jwks_url)
                if source is None:
                    source = RemoteJWKS(config.jwks_url, **jwks_options)
                key = config.jwks_url
            else:
                key = config.metadata_url
                source = sources.get(key)
                if source is not None and getattr(source, "issuer", None) != config.issuer:
                    raise ConfigurationError(
                        f"{key} serves the issuer {getattr(source, 'issuer', '?')}, and cannot "
                        f"serve {config.issuer} too"
                    )
                if source is None:
                    source = OidcDiscovery(key, issuer=config.issuer, **jwks_options)
            sources[key] = source
            verifier = Verifier(
                source,
                algorithms=list(algorithms),
                issuer=list(config.accepted),
                audience=list(config.audience),
                leeway=float(leeway),
                require=("exp", "sub", "aud"),
                cache_size=cache_size,
            )
            entry = _Entry(config, source, verifier)
            self._primary.append(entry)
            for iss in config.accepted:
                self._entries[iss] = entry
        self._sources = list(sources.values())

    def __repr__(self) -> str:
        return f"<OidcVerifier issuers={self.issuers!r}>"

    @property
    def configs(self) -> list[OidcIssuer]:
        return [e.config for e in self._primary]

    @property
    def issuers(self) -> list[str]:
        """The configured issuers (templates as configured), in order."""
        return [e.config.issuer for e in self._primary]

    @property
    def accepted_issuers(self) -> list[str]:
        """Every ``iss`` accepted (each tenant's issuer, each alias)."""
        return list(self._entries)

    @property
    def key_sets(self) -> list[RemoteJWKS]:
        return list(self._sources)

    def _route(self, token: str | bytes) -> _Entry:
        """The entry the token's unverified ``iss`` names; nothing here decides that the token
        is good, and nothing is fetched for an issuer that is not configured."""
        iss = _core._unverified_issuer(token)
        if iss is None:
            if unverified_claims(token).get("iss") is None:  # raises for a non-token
                raise MissingClaimError("the token has no 'iss' claim")
            raise InvalidIssuerError("the token's iss is not a string")
        entry = self._entries.get(iss)
        if entry is None:
            raise InvalidIssuerError("the token's issuer is not an accepted OIDC issuer")
        return entry

    def verify(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """The verified claims; an InvalidTokenError subclass (401) or KeySetUnavailableError
        (503: the issuer's discovery or keys cannot be had)."""
        try:
            entry = self._route(token)
            return entry.check(entry.verifier.verify(token, now=now))
        except InvalidTokenError as exc:
            _refused(exc, token)
            raise

    async def verify_async(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """:meth:`verify` for coroutines: key fetches await."""
        try:
            entry = self._route(token)
            return entry.check(await entry.verifier.verify_async(token, now=now))
        except InvalidTokenError as exc:
            _refused(exc, token)
            raise

    async def recheck_async(self, token: str | bytes, *, now: float | None = None) -> None:
        """Check again a token accepted before (signature or verified-token cache, ``iss``,
        ``aud``, times); the tenant rule depends on the claims alone, which passed it then."""
        try:
            entry = self._route(token)
            await entry.verifier.check_async(token, now=now)
        except InvalidTokenError as exc:
            _refused(exc, token)
            raise

    def mapping_for(self, claims: Mapping[str, Any]) -> ClaimMapping:
        entry = self._entries.get(claims.get("iss"))  # type: ignore[arg-type]
        if entry is None:
            raise InvalidIssuerError("the claims name no accepted OIDC issuer")
        return entry.config.mapping

    def identity(self, claims: Mapping[str, Any], *, provider: str = "oidc") -> Principal:
        """The Principal of verified claims, mapped by their issuer's :class:`ClaimMapping`."""
        return self.mapping_for(claims).principal(claims, provider=provider)

    # --- keys ---------------------------------------------------------------------------------

    def prefetch(self) -> None:
        """Discover and fetch every issuer's keys now (start-up), each whatever the others do;
        then KeySetUnavailableError for the first that could not."""
        failed: KeySetUnavailableError | None = None
        for source in self._sources:
            try:
                source.prefetch()
            except KeySetUnavailableError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    async def prefetch_async(self) -> None:
        """:meth:`prefetch` without blocking the event loop."""
        failed: KeySetUnavailableError | None = None
        for source in self._sources:
            try:
                await source.prefetch_async()
            except KeySetUnavailableError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def prewarm(self) -> None:
        for source in self._sources:
            source.prewarm()

    async def prewarm_async(self) -> None:
        for source in self._sources:
            await source.prewarm_async()


class OidcProvider:
    """The tokens of OpenID Connect issuers, checked by an :class:`OidcVerifier`. As
    :class:`~tokenward.providers.CognitoProvider`: ``memo_size`` tokens keep the Principal made
    from them (every token is still checked on every request)."""

    name = "oidc"

    def __init__(self, verifier: OidcVerifier, *, memo_size: int = DEFAULT_MEMO_SIZE) -> None:
        self.verifier = verifier
        self.memo = PrincipalMemo(memo_size)

    @property
    def issuers(self) -> tuple[str, ...]:
        """Every accepted ``iss`` (a token naming another is not this provider's)."""
        return tuple(self.verifier.accepted_issuers)

    def _mapper(self, claims: Mapping[str, Any]) -> Principal:
        return self.verifier.identity(claims, provider=self.name)

    async def authenticate(self, token: str) -> Principal:
        principal = self.memo.get(token)
        if principal is not None:
            await self.verifier.recheck_async(token)
            return principal
        claims = await self.verifier.verify_async(token)
        return self.memo.principal(token, claims, self._mapper)


def issuers_from_settings(
    *,
    issuer: str | None,
    issuers: str | None,
    audience: Sequence[str],
    preset: str | None,
    groups_claim: str | None,
    roles_claim: str | None,
    scope_claims: Sequence[str],
    tenants: Sequence[str],
    discovery_url: str | None,
    jwks_url: str | None,
) -> list[OidcIssuer]:
    """The issuers of ``OIDC_ISSUER`` and ``OIDC_ISSUERS`` (docs/oidc.md). ``OIDC_ISSUERS`` is a
    JSON array whose members are issuer URLs or objects (``issuer``, ``audience``, ``preset``,
    ``groups_claim``, ``roles_claim``, ``scope_claims``, ``tenants``, ``discovery_url``,
    ``jwks_url``), or a comma-separated list of issuer URLs; whatever a member leaves out comes
    from the ``OIDC_*`` settings."""
    members: list[Any] = []
    if issuer:
        members.append(issuer.strip())
    text = (issuers or "").strip()
    if text.startswith("["):
        try:
            listed = json.loads(text)
        except ValueError:
            raise ConfigurationError("OIDC_ISSUERS is not valid JSON") from None
        if not isinstance(listed, list):
            raise ConfigurationError("OIDC_ISSUERS must be a JSON array")
        members.extend(listed)
    elif text:
        members.extend(t.strip() for t in text.split(",") if t.strip())
    known = {
        "issuer", "audience", "preset", "groups_claim", "roles_claim", "scope_claims",
        "tenants", "discovery_url", "jwks_url",
    }  # fmt: skip
    out: list[OidcIssuer] = []
    for member in members:
        item: dict[str, Any] = {"issuer": member} if isinstance(member, str) else member
        if not isinstance(item, dict) or not isinstance(item.get("issuer"), str):
            raise ConfigurationError("each member of OIDC_ISSUERS is an issuer URL or an object")
        unknown = set(item) - known
        if unknown:
            raise ConfigurationError(f"OIDC_ISSUERS: unknown keys {', '.join(sorted(unknown))}")
        single = len(members) == 1
        kind = item.get("preset", preset)
        base = PRESETS[kind].claims if kind in PRESETS else ClaimMapping()
        groups = item.get("groups_claim", groups_claim)
        roles = item.get("roles_claim", roles_claim)
        scopes = item.get("scope_claims", scope_claims)
        mapping = ClaimMapping(
            groups_claim=base.groups_claim if groups is None else (groups or None),
            roles_claim=base.roles_claim if roles is None else (roles or None),
            scope_claims=tuple(_names(scopes, "the scope claims")) or base.scope_claims,
        )
        out.append(
            OidcIssuer(
                issuer=item["issuer"],
                audience=_names(item.get("audience", audience), "the audiences"),
                preset=kind or None,
                claims=mapping,
                tenants=_names(item.get("tenants", tenants), "the tenants"),
                # one issuer's URL overrides apply only where there is one issuer
                discovery_url=item.get("discovery_url", discovery_url if single else None),
                jwks_url=item.get("jwks_url", jwks_url if single else None),
            )
        )
    return out


def _refused(exc: Exception, token: str | bytes) -> None:
    """Log at debug level why a token was refused: the error and its ``kid``, no claims."""
    if not _log.isEnabledFor(logging.DEBUG):
        return
    try:
        found = unverified_header(token).get("kid")
    except (InvalidTokenError, ValueError):
        found = None
    kid = found if isinstance(found, str) and _KID.fullmatch(found) else "-"
    reason = "".join(c if " " <= c <= "~" else "?" for c in str(exc))[:200]
    _log.debug("tokenward: OIDC token refused (kid %s): %s: %s", kid, type(exc).__name__, reason)
