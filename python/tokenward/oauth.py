"""Sign-in with an external provider: Google, GitHub, or any OpenID Connect issuer.

:class:`ExternalSignIn` runs the OAuth 2.0 authorization-code flow for a browser, framework-free
(the routes are :mod:`tokenward.fastapi.oauth_router`'s):

1. :meth:`ExternalSignIn.begin` draws a ``state``, a PKCE ``code_verifier`` (sent as its S256
   challenge) and a ``nonce``, and a *binding* value for the browser's state cookie. The store
   keeps, under the SHA-256 of the state, the provider, the verifier, the nonce, the hash of the
   binding and where to go afterwards (:class:`~tokenward.stores.OAuthState`, 10 minutes). The
   verifier never leaves the server but for the provider's token endpoint: it is in no URL and
   no cookie. The browser is sent to the provider's authorization endpoint.
2. :meth:`ExternalSignIn.finish` takes the callback's ``state`` and ``code`` and the cookie's
   binding. The state is consumed (one atomic delete: of two callbacks with one state, one goes
   on), must be this provider's, unexpired, and bound to this browser. The code is exchanged
   (httpx) with the verifier; an OpenID Connect provider's ID token is verified (signature with
   the keys found through discovery, ``iss``, ``aud`` = the client id, ``azp`` when present and
   required when ``aud`` names several, ``exp``/``iat``, and the ``nonce``); GitHub, which has
   no ID token, is asked for the user and its emails by API.
3. The external account is then *linked or created* (:meth:`ExternalSignIn.user_for`): a linked
   (provider, subject) is that user; otherwise an account with the same email is linked only
   when the provider says it verified the email and the account's own email is verified too;
   otherwise, with ``OAUTH_SIGNUP=open`` and a verified email, an account is made (no password).
   A disabled account is refused. The session starts through the one
   :class:`~tokenward.signin.SignInUser`, with ``amr = ("ext",)``.

Every failure is typed: :class:`~tokenward.ExternalSignInError` (401, with its ``reason``),
:class:`~tokenward.ExternalSignUpError` (403), :class:`~tokenward.ExternalProviderUnavailableError`
(503), :class:`~tokenward.RateLimitError` (429: starts and callbacks are each limited per client
address, through the store's atomic :meth:`~tokenward.stores.CounterStore.reserve`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tokenward._verifier import Verifier
from tokenward.exceptions import (
    DuplicateUserError,
    ExternalProviderUnavailableError,
    ExternalSignInError,
    ExternalSignUpError,
    InvalidTokenError,
    KeySetUnavailableError,
    RateLimitError,
)
from tokenward.jwks import _httpx
from tokenward.oidc import ASYMMETRIC_ALGORITHMS, OidcDiscovery, _check_url, discovery_url
from tokenward.stores.base import LinkedIdentity, OAuthState, UserRecord
from tokenward.users import normalize_email

if TYPE_CHECKING:
    import httpx

    from tokenward.settings import AuthSettings
    from tokenward.signin import SignInUser
    from tokenward.stores import CounterStore, LinkedIdentityStore, UserStore
    from tokenward.tokens import ClientInfo, TokenPair

__all__ = [
    "AMR",
    "COOKIE_NAME",
    "STATE_TTL",
    "Authorization",
    "ExternalIdentity",
    "ExternalSignIn",
    "GitHubProvider",
    "OidcSignInProvider",
    "SignInProvider",
    "SignedIn",
    "build_external_sign_in",
    "google_provider",
]

_log = logging.getLogger("tokenward")

AMR: tuple[str, ...] = ("ext",)
"""The ``amr`` of a session started by an external provider (RFC 8176 has no value for "another
party vouched for the user"; ``ext`` is tokenward's, as in :mod:`tokenward.signin`)."""
COOKIE_NAME = "tokenward_oauth"  # the state cookie: the browser's binding value
STATE_TTL = 600.0  # seconds a sign-in may take between the start and the callback
DEFAULT_MAX_PER_ADDRESS = 10  # starts (and, apart, callbacks) per address per window
DEFAULT_ADDRESS_WINDOW = 300.0
HTTP_TIMEOUT = 10.0  # seconds for each call to a provider
MAX_ANSWER_BYTES = 256 * 1024
MAX_REDIRECT_CHARS = 512
GOOGLE_ISSUER = "https://accounts.google.com"
GITHUB_AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token"
GITHUB_API_URL = "https://api.github.com"
OIDC_SCOPES = ("openid", "email", "profile")
GITHUB_SCOPES = ("read:user", "user:email")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _digest(value: str) -> str:
    """The hex SHA-256 of a random value (a state, a binding): what the store keeps. The values
    are 256-bit random, so an unkeyed hash is as good as a keyed one here."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def safe_redirect(target: str | None) -> str | None:
    """``target`` when it is a path of this site (``/…``, not ``//host`` nor ``/\\host``, no
    control characters, bounded), else None: the redirect after sign-in must never leave for
    a site an attacker names (an open redirect)."""
    if not target or len(target) > MAX_REDIRECT_CHARS or not target.startswith("/"):
        return None
    if target.startswith(("//", "/\\")) or any(ord(c) < 0x21 or c == "\\" for c in target):
        return None
    return target


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who the provider says the browser is: its stable ``subject`` (an ID token's ``sub``,
    GitHub's numeric id), and an email with whether the provider verified it."""

    provider: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    """Where to send the browser (``url``, the provider's authorization request) and the value
    of its state cookie (``binding``)."""

    url: str
    binding: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A finished sign-in: the user, the session's first token pair, where the browser goes
    next (a path of this site, or None for the default) and what happened to the account."""

    user: UserRecord
    pair: TokenPair
    redirect_to: str | None
    created: bool = False
    linked: bool = False


class SignInProvider(Protocol):
    """One external provider: the authorization request, and the identity behind a code."""

    name: str

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, challenge: str
    ) -> str: ...

    async def identify(
        self, http: httpx.AsyncClient, *, code: str, verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalIdentity: ...


# --- talking to a provider ---------------------------------------------------------------------


def _unavailable(name: str, what: str) -> ExternalProviderUnavailableError:
    return ExternalProviderUnavailableError(f"the {name} sign-in: {what}")


async def _call(
    http: httpx.AsyncClient, name: str, method: str, url: str, **options: Any
) -> httpx.Response:
    """One request to the provider: a transport failure, a timeout or a 5xx is the provider
    being unavailable (503); the answer is bounded in size."""
    lib = _httpx()
    try:
        answer = await http.request(method, url, **options)
    except lib.HTTPError as exc:
        raise _unavailable(name, f"{type(exc).__name__} at {url}") from None
    if answer.status_code >= 500:
        raise _unavailable(name, f"{url} answered {answer.status_code}")
    if len(answer.content) > MAX_ANSWER_BYTES:
        raise ExternalSignInError("invalid_profile", f"the {name} answer is too large")
    return answer


def _json(answer: httpx.Response, name: str, what: str) -> Any:
    try:
        return answer.json()
    except ValueError:
        raise ExternalSignInError("provider_error", f"the {name} {what} is not JSON") from None


def _provider_error(name: str, body: Any, status: int) -> ExternalSignInError:
    code = body.get("error") if isinstance(body, dict) else None
    shown = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else f"HTTP {status}"
    return ExternalSignInError("provider_error", f"the {name} token endpoint refused: {shown}")


class OidcSignInProvider:
    """An OpenID Connect provider: endpoints and keys through discovery (the document is read
    once, its ``issuer`` must be ``issuer`` exactly, its endpoints https or loopback http), the
    code exchanged with HTTP Basic client authentication, the ID token verified in C++ with the
    discovered keys. ``aliases`` are other spellings of ``iss`` it uses (Google's
    ``accounts.google.com``)."""

    def __init__(
        self,
        name: str,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = OIDC_SCOPES,
        aliases: Sequence[str] = (),
        leeway: float = 60.0,
        metadata_url: str | None = None,
    ) -> None:
        _check_url(f"the {name} issuer", issuer, allow_http=False)
        self.name = name
        self.issuer = issuer
        self.client_id = client_id
        self._secret = client_secret
        self.scopes = tuple(dict.fromkeys(("openid", *scopes)))
        self.keys = OidcDiscovery(metadata_url or discovery_url(issuer), issuer=issuer)
        self.verifier = Verifier(
            self.keys,
            algorithms=list(ASYMMETRIC_ALGORITHMS),
            issuer=[issuer, *aliases],
            audience=[client_id],
            leeway=leeway,
            require=("exp", "iat", "sub", "aud"),
        )

    def __repr__(self) -> str:
        return f"<OidcSignInProvider {self.name} {self.issuer!r}>"  # never the secret

    async def _endpoint(self, key: str) -> str:
        document = self.keys.document
        if document is None:
            try:
                await self.keys.prefetch_async()
            except KeySetUnavailableError as exc:
                raise _unavailable(self.name, f"discovery failed: {exc}") from None
            document = self.keys.document
        url = (document or {}).get(key)
        try:
            return _check_url(f"the discovery document's {key}", url, allow_http=False)
        except Exception as exc:
            raise _unavailable(self.name, str(exc)) from None

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, challenge: str
    ) -> str:
        endpoint = await self._endpoint("authorization_endpoint")
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        joiner = "&" if urllib.parse.urlsplit(endpoint).query else "?"
        return endpoint + joiner + urllib.parse.urlencode(query)

    async def identify(
        self, http: httpx.AsyncClient, *, code: str, verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalIdentity:
        endpoint = await self._endpoint("token_endpoint")
        quote = urllib.parse.quote
        basic = base64.b64encode(
            f"{quote(self.client_id, safe='')}:{quote(self._secret, safe='')}".encode()
        ).decode("ascii")
        answer = await _call(
            http,
            self.name,
            "POST",
            endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )
        body = _json(answer, self.name, "token answer")
        if answer.status_code != 200 or not isinstance(body, dict) or "error" in body:
            raise _provider_error(self.name, body, answer.status_code)
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise ExternalSignInError("invalid_id_token", f"the {self.name} answer has no ID token")
        claims = await self.verify_id_token(id_token, nonce)
        email = claims.get("email")
        name = claims.get("name")
        return ExternalIdentity(
            provider=self.name,
            subject=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
            name=name if isinstance(name, str) else None,
        )

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of a good ID token for this client and this ``nonce``; ExternalSignInError
        otherwise (503 when the keys cannot be had)."""
        try:
            claims = await self.verifier.verify_async(id_token)
        except KeySetUnavailableError as exc:
            raise _unavailable(self.name, f"its keys: {exc}") from None
        except InvalidTokenError as exc:
            raise ExternalSignInError(
                "invalid_id_token", f"the {self.name} ID token is refused: {exc}"
            ) from None
        audience = claims.get("aud")
        azp = claims.get("azp")
        several = isinstance(audience, list) and len(audience) > 1
        if (azp is not None or several) and azp != self.client_id:
            raise ExternalSignInError(
                "invalid_id_token", f"the {self.name} ID token was issued to another party (azp)"
            )
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise ExternalSignInError(
                "invalid_nonce", f"the {self.name} ID token does not carry this sign-in's nonce"
            )
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise ExternalSignInError("invalid_id_token", f"the {self.name} ID token's sub")
        return claims


def google_provider(
    client_id: str, client_secret: str, scopes: Sequence[str] = OIDC_SCOPES
) -> OidcSignInProvider:
    """Google: the OpenID Connect provider ``https://accounts.google.com`` (whose older ID
    tokens say ``accounts.google.com``, without the scheme)."""
    return OidcSignInProvider(
        "google",
        issuer=GOOGLE_ISSUER,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        aliases=("accounts.google.com",),
    )


class GitHubProvider:
    """GitHub: OAuth 2.0 without OpenID Connect. The code is exchanged at the token endpoint
    (client secret in the form, with the PKCE verifier), then the user (``/user``: its numeric
    ``id`` is the subject) and its emails (``/user/emails``) are read by API. Only the primary
    email counts, and it is verified only when GitHub says so. There is no ID token, so no
    nonce: the state, the browser binding and PKCE carry the flow."""

    name = "github"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = GITHUB_SCOPES,
        authorize_url: str = GITHUB_AUTHORIZE_URL,
        token_url: str = GITHUB_TOKEN_URL,
        api_url: str = GITHUB_API_URL,
    ) -> None:
        for what, url in (("authorize", authorize_url), ("token", token_url), ("API", api_url)):
            _check_url(f"GitHub's {what} URL", url, allow_http=False)
        self.client_id = client_id
        self._secret = client_secret
        self.scopes = tuple(scopes)
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.api_url = api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"<GitHubProvider {self.api_url!r}>"

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, challenge: str
    ) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return self.authorize_url + "?" + urllib.parse.urlencode(query)

    async def identify(
        self, http: httpx.AsyncClient, *, code: str, verifier: str, redirect_uri: str, nonce: str
    ) -> ExternalIdentity:
        answer = await _call(
            http,
            self.name,
            "POST",
            self.token_url,
            data={
                "client_id": self.client_id,
                "client_secret": self._secret,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            headers={"Accept": "application/json"},
        )
        body = _json(answer, self.name, "token answer")
        # GitHub answers a refused code with 200 and {"error": "bad_verification_code"}
        if answer.status_code != 200 or not isinstance(body, dict) or "error" in body:
            raise _provider_error(self.name, body, answer.status_code)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ExternalSignInError("provider_error", "the GitHub answer has no access token")
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        user = _json(
            await _call(http, self.name, "GET", self.api_url + "/user", headers=headers),
            self.name,
            "user",
        )
        subject = user.get("id") if isinstance(user, dict) else None
        if isinstance(subject, bool) or not isinstance(subject, int | str) or subject == "":
            raise ExternalSignInError("invalid_profile", "the GitHub user has no id")
        emails = await _call(http, self.name, "GET", self.api_url + "/user/emails", headers=headers)
        email, verified = None, False
        listed = _json(emails, self.name, "emails") if emails.status_code == 200 else []
        for entry in listed if isinstance(listed, list) else []:
            if isinstance(entry, dict) and entry.get("primary") is True:
                address = entry.get("email")
                email = address if isinstance(address, str) and address else None
                verified = email is not None and entry.get("verified") is True
                break
        login = user.get("name") or user.get("login")
        return ExternalIdentity(
            provider=self.name,
            subject=str(subject),
            email=email,
            email_verified=verified,
            name=login if isinstance(login, str) else None,
        )


# --- the sign-in -------------------------------------------------------------------------------


class ExternalSignIn:
    """The flow of the module's text over ``providers`` (by name), the ``store`` (a
    :class:`~tokenward.stores.LinkedIdentityStore`, :class:`~tokenward.stores.UserStore` and
    :class:`~tokenward.stores.CounterStore`: every backend is all three) and ``sign_in``.

    ``redirect_base`` is this API's public base URL: a provider sends the browser back to
    ``{redirect_base}{prefix}/oauth/{provider}/callback``. ``signup_open`` lets a first sign-in
    with a verified email make an account. ``http`` (tests) replaces the httpx client made per
    exchange."""

    def __init__(
        self,
        providers: Mapping[str, SignInProvider],
        *,
        store: Any,
        sign_in: SignInUser,
        redirect_base: str,
        prefix: str = "/v1/auth",
        signup_open: bool = False,
        state_ttl: float = STATE_TTL,
        max_per_address: int = DEFAULT_MAX_PER_ADDRESS,
        address_window: float = DEFAULT_ADDRESS_WINDOW,
        clock: Any = time.time,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.providers = dict(providers)
        self.links: LinkedIdentityStore = store
        self.users: UserStore = store
        self.counters: CounterStore = store
        self.sign_in = sign_in
        self.redirect_base = redirect_base.rstrip("/")
        self.prefix = prefix
        self.signup_open = signup_open
        self.state_ttl = float(state_ttl)
        self.max_per_address = int(max_per_address)
        self.address_window = float(address_window)
        self.clock = clock
        self._http = http

    def __repr__(self) -> str:
        return f"<ExternalSignIn providers={list(self.providers)!r}>"

    def redirect_uri(self, name: str) -> str:
        """Where ``name`` sends the browser back (register it at the provider)."""
        return f"{self.redirect_base}{self.prefix}/oauth/{name}/callback"

    def provider(self, name: str) -> SignInProvider | None:
        return self.providers.get(name)

    async def limit(self, kind: str, address: str | None) -> None:
        """Count one ``kind`` (``start`` or ``callback``) from ``address``: RateLimitError past
        ``max_per_address`` per window. One atomic reservation: the bound holds under a burst."""
        if address is None:
            return
        now = self.clock()
        reservation = await self.counters.reserve(
            f"oauth-{kind}-address:{address}",
            limit=self.max_per_address,
            window=self.address_window,
            now=now,
        )
        if not reservation.granted:
            raise RateLimitError(
                "Too many external sign-in attempts from this address.",
                retry_after=reservation.reset_at - now,
            )

    async def begin(
        self, name: str, *, redirect_to: str | None = None, address: str | None = None
    ) -> Authorization:
        """Start a sign-in with ``name``: the provider's authorization URL and the browser's
        binding. KeyError for an unknown provider; ``redirect_to`` that is not a path of this
        site is dropped (the default target is used)."""
        provider = self.providers[name]
        await self.limit("start", address)
        state, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
        url = await provider.authorization_url(
            redirect_uri=self.redirect_uri(name),
            state=state,
            nonce=nonce,
            challenge=pkce_challenge(verifier),
        )
        now = self.clock()
        await self.links.add_oauth_state(
            _digest(state),
            OAuthState(
                provider=name,
                code_verifier=verifier,
                nonce=nonce,
                binding_hash=_digest(binding),
                created_at=now,
                expires_at=now + self.state_ttl,
                redirect_to=safe_redirect(redirect_to),
            ),
        )
        return Authorization(url, binding)

    async def finish(
        self,
        name: str,
        *,
        state: str | None,
        code: str | None,
        binding: str | None,
        error: str | None = None,
        address: str | None = None,
        client: ClientInfo | None = None,
    ) -> SignedIn:
        """The callback: the state consumed and checked, the code exchanged, the account found,
        linked or made, the session started (see the module's text)."""
        provider = self.providers[name]
        await self.limit("callback", address)
        if not state or len(state) > 256:
            raise ExternalSignInError("invalid_state", "the callback carries no valid state")
        record = await self.links.consume_oauth_state(_digest(state), now=self.clock())
        if record is None or record.provider != name:
            raise ExternalSignInError(
                "invalid_state", "unknown, used or expired sign-in state: start again"
            )
        if not binding or not hmac.compare_digest(_digest(binding), record.binding_hash):
            raise ExternalSignInError(
                "state_not_bound", "this sign-in was started in another browser: start again"
            )
        if error is not None or not code:
            shown = error if error and _ERROR_CODE.fullmatch(error) else "no code"
            raise ExternalSignInError("provider_error", f"the {name} sign-in ended: {shown}")
        identity = await self._identify(provider, code, record)
        user, created, linked = await self.user_for(identity)
        pair = await self.sign_in(user, client=client, amr=AMR)
        return SignedIn(user, pair, record.redirect_to, created=created, linked=linked)

    async def _identify(
        self, provider: SignInProvider, code: str, record: OAuthState
    ) -> ExternalIdentity:
        options = {"redirect_uri": self.redirect_uri(provider.name), "nonce": record.nonce}
        if self._http is not None:
            return await provider.identify(
                self._http, code=code, verifier=record.code_verifier, **options
            )
        lib = _httpx()
        async with lib.AsyncClient(
            timeout=HTTP_TIMEOUT, follow_redirects=False, headers={"User-Agent": "tokenward"}
        ) as http:
            return await provider.identify(
                http, code=code, verifier=record.code_verifier, **options
            )

    async def user_for(self, identity: ExternalIdentity) -> tuple[UserRecord, bool, bool]:
        """The account of ``identity``, and whether it was just made and just linked: its link,
        else the account of its email when both the provider and the account verified that
        email (then linked), else a new account when sign-up is open and the email is verified
        (then linked). ExternalSignUpError when none may be had; ExternalSignInError for a
        disabled account."""
        name, subject = identity.provider, identity.subject
        now = self.clock()
        user: UserRecord | None = None
        created = linked = False
        link = await self.links.get_linked_identity(name, subject)
        if link is not None:
            user = await self.users.get_user(link.user_id)
            if user is None:  # the account was deleted: its link names nobody
                await self.links.unlink_identity(name, link.user_id)
        if user is None:
            email = normalize_email(identity.email) if identity.email else None
            user = await self.users.get_user_by_email(email) if email else None
            if user is not None and not (identity.email_verified and user.email_verified):
                raise ExternalSignUpError(
                    "email_not_verified",
                    f"an account with this email exists, but the {name} email or the account's "
                    "is not verified: sign in to the account another way",
                )
            if user is None:
                user, created = await self._sign_up(identity, email, now)
            user, linked = await self._link(identity, user, now)
        if user.disabled:
            raise ExternalSignInError("account_disabled", "this account is disabled")
        await self.links.touch_linked_identity(name, subject, now=now)
        return user, created, linked

    async def _sign_up(
        self, identity: ExternalIdentity, email: str | None, now: float
    ) -> tuple[UserRecord, bool]:
        if not self.signup_open:
            raise ExternalSignUpError(
                "signup_closed", "no account is linked to this sign-in, and sign-up is closed"
            )
        if email is None or not identity.email_verified:
            raise ExternalSignUpError(
                "email_not_verified",
                f"a new account needs an email the {identity.provider} account has verified",
            )
        record = UserRecord(
            id="usr_" + secrets.token_hex(16),
            email=email,
            password_hash=None,
            created_at=now,
            updated_at=now,
            email_verified=True,
        )
        try:
            return await self.users.create_user(record), True
        except DuplicateUserError:  # a concurrent sign-up of the same email won: use it
            found = await self.users.get_user_by_email(email)
            if found is None or not found.email_verified:
                raise ExternalSignUpError(
                    "email_not_verified", "an account with this email was just made elsewhere"
                ) from None
            return found, False

    async def _link(
        self, identity: ExternalIdentity, user: UserRecord, now: float
    ) -> tuple[UserRecord, bool]:
        link = LinkedIdentity(
            provider=identity.provider,
            subject=identity.subject,
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            email=identity.email,
        )
        if await self.links.link_identity(link):
            _log.info("tokenward: %s account linked to user %s", identity.provider, user.id)
            return user, True
        # taken: a concurrent callback linked this subject first, or the user has another
        # account at this provider
        found = await self.links.get_linked_identity(identity.provider, identity.subject)
        if found is not None:
            again = await self.users.get_user(found.user_id)
            if again is not None:
                return again, False
        raise ExternalSignUpError(
            "already_linked",
            f"this account is linked to another {identity.provider} account already",
        )


def _scopes(value: str | None, default: Sequence[str]) -> tuple[str, ...]:
    names = (value or "").replace(",", " ").split()
    return tuple(dict.fromkeys(names)) if names else tuple(default)


def build_external_sign_in(
    settings: AuthSettings,
    *,
    store: Any,
    sign_in: SignInUser,
    clock: Any = time.time,
    prefix: str = "/v1/auth",
) -> ExternalSignIn | None:
    """The external sign-in of ``OAUTH_PROVIDERS`` (None when it names none); the settings
    are checked by ``settings.check()`` (see :mod:`tokenward.settings`)."""
    names = settings.oauth_provider_names
    if not names:
        return None

    def secret(value: Any) -> str:
        return "" if value is None else str(value.get_secret_value())

    providers: dict[str, SignInProvider] = {}
    for name in names:
        if name == "google":
            providers[name] = google_provider(
                settings.oauth_google_client_id or "",
                secret(settings.oauth_google_client_secret),
                _scopes(settings.oauth_google_scopes, OIDC_SCOPES),
            )
        elif name == "github":
            providers[name] = GitHubProvider(
                client_id=settings.oauth_github_client_id or "",
                client_secret=secret(settings.oauth_github_client_secret),
                scopes=_scopes(settings.oauth_github_scopes, GITHUB_SCOPES),
                authorize_url=settings.oauth_github_authorize_url or GITHUB_AUTHORIZE_URL,
                token_url=settings.oauth_github_token_url or GITHUB_TOKEN_URL,
                api_url=settings.oauth_github_api_url or GITHUB_API_URL,
            )
        else:
            providers[name] = OidcSignInProvider(
                name,
                issuer=settings.oauth_oidc_issuer or "",
                client_id=settings.oauth_oidc_client_id or "",
                client_secret=secret(settings.oauth_oidc_client_secret),
                scopes=_scopes(settings.oauth_oidc_scopes, OIDC_SCOPES),
                leeway=max(settings.leeway, 60.0),
            )
    return ExternalSignIn(
        providers,
        store=store,
        sign_in=sign_in,
        redirect_base=settings.oauth_redirect_base_url or "",
        prefix=prefix,
        signup_open=settings.oauth_signup == "open",
        clock=clock,
    )
