"""The routes of sign-in with an external provider (:mod:`tokenward.oauth`), added onto the auth
router by :func:`add_oauth_routes`:

* ``GET {prefix}/oauth/{provider}`` (``?redirect_to=/path`` optional): 302 to the provider's
  authorization endpoint, with the state cookie ``tokenward_oauth`` (HttpOnly, SameSite=Lax,
  Secure but for plain http to a loopback host in development, 10 minutes, Path
  ``{prefix}/oauth``);
* ``GET {prefix}/oauth/{provider}/callback``: the provider's answer. With cookie sessions
  (``COOKIE_SESSIONS``) a 303 to ``OAUTH_AFTER_SIGN_IN_URL`` (or the ``redirect_to`` path of
  the start) with the session cookies; otherwise 200 with the login answer (a token pair).

Both are public (signing in is), carry ``Cache-Control: no-store`` and answer: 404 for a
provider not in ``OAUTH_PROVIDERS``; 401 ``{"detail", "error"}`` for a sign-in that proved
nothing (``error`` is :class:`~tokenward.ExternalSignInError`'s reason: ``invalid_state``,
``state_not_bound``, ``provider_error``, ``invalid_id_token``, ``invalid_nonce``...); 403 when
no account may be had (closed sign-up, an unverified email); 429 past 10 starts (or callbacks)
per 5 minutes from one address; 503 when the provider or the store cannot be reached.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.requests import HTTPConnection

from tokenward.exceptions import ExternalSignInError, TokenwardError
from tokenward.fastapi import errors
from tokenward.fastapi.dependencies import public
from tokenward.fastapi.models import TokenResponse
from tokenward.fastapi.transports import CookieSession
from tokenward.jwks import _is_loopback
from tokenward.oauth import COOKIE_NAME, ExternalSignIn
from tokenward.settings import AuthSettings
from tokenward.tokens import ClientInfo

__all__ = ["add_oauth_routes"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "The sign-in proved nothing: error names why (invalid_state, ...)"},
    403: {"description": "No account may be made or linked for this external account"},
    404: {"description": "No such provider"},
    429: {"description": "Too many external sign-ins from this address: wait Retry-After"},
    503: {"description": "The provider or the store is unavailable"},
}


def add_oauth_routes(
    router: APIRouter,
    service: ExternalSignIn | None,
    settings: AuthSettings,
    *,
    client: Callable[[Request], ClientInfo],
    cookies: CookieSession | None,
) -> None:
    """Add the two routes onto ``router`` (the auth router, whose prefix they share) when
    ``service`` is not None (``OAUTH_PROVIDERS`` names a provider)."""
    if service is None:
        return
    cookie_path = router.prefix + "/oauth"
    after = settings.oauth_after_sign_in_url.strip() or "/"
    development = settings.is_development

    def secure(connection: HTTPConnection) -> bool:
        plain = connection.url.scheme == "http" and _is_loopback(connection.url.hostname or "")
        return not (development and plain)

    def state_cookie(response: Response, value: str, max_age: int, request: Request) -> None:
        parts = [f"{COOKIE_NAME}={value}", f"Max-Age={max_age}", f"Path={cookie_path}"]
        parts += ["HttpOnly", "SameSite=Lax"] + (["Secure"] if secure(request) else [])
        response.headers.append("set-cookie", "; ".join(parts))

    def known(provider: str) -> None:
        if service.provider(provider) is None:
            raise errors.not_found("provider")

    @router.get(
        "/oauth/{provider}",
        dependencies=[Depends(public())],
        status_code=302,
        response_class=Response,
        summary="Sign in with an external provider: a redirect to it",
        responses={302: {"description": "To the provider, with the state cookie"}, **_ERRORS},
    )
    async def oauth_start(
        provider: str, request: Request, redirect_to: str | None = None
    ) -> Response:
        known(provider)
        try:
            started = await service.begin(
                provider, redirect_to=redirect_to, address=client(request).address
            )
        except TokenwardError as exc:
            raise errors.to_http(exc, login_path=None) from None
        answer = RedirectResponse(started.url, status_code=302)
        state_cookie(answer, started.binding, int(service.state_ttl), request)
        return answer

    @router.get(
        "/oauth/{provider}/callback",
        dependencies=[Depends(public())],
        response_model=TokenResponse,
        summary="Where the provider sends the browser back: signs in",
        responses={303: {"description": "Signed in with cookies (COOKIE_SESSIONS)"}, **_ERRORS},
    )
    async def oauth_callback(
        provider: str,
        request: Request,
        state: str | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> Response:
        known(provider)
        where = client(request)
        try:
            done = await service.finish(
                provider,
                state=state,
                code=code,
                error=error,
                binding=request.cookies.get(COOKIE_NAME),
                address=where.address,
                client=where,
            )
        except ExternalSignInError as exc:
            http = errors.to_http(exc, login_path=None)
            refused = JSONResponse(
                {"detail": http.detail, "error": exc.reason},
                status_code=http.status_code,
                headers=http.headers,
            )
            state_cookie(refused, "", 0, request)
            return refused
        except TokenwardError as exc:
            raise errors.to_http(exc, login_path=None) from None
        answer: Response
        if cookies is not None:
            target = urllib.parse.urljoin(after, done.redirect_to) if done.redirect_to else after
            answer = RedirectResponse(target, status_code=303)
            cookies.write_login(answer, done.pair, request)
        else:
            answer = JSONResponse(TokenResponse(**done.pair.to_json()).model_dump())
        state_cookie(answer, "", 0, request)
        return answer
