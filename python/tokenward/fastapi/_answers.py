"""The answers the auth routers share (``router``, ``mfa_router``, ``passkeys_router``):
internal, not part of the public API.

:func:`http_errors` turns a :class:`TokenwardError` raised in its block into the HTTP error the
routes answer with; :func:`signed_in` answers a sign-in (the token pair, and both cookies under
cookie sessions); :func:`stepped_up` answers a step-up (a fresh access token, and the access
cookie alone: the session stays the same).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, Field

from tokenward.exceptions import TokenwardError
from tokenward.fastapi import errors
from tokenward.fastapi.models import TokenResponse
from tokenward.fastapi.transports import CookieSession
from tokenward.tokens import TokenPair

__all__ = ["StepUpResponse", "http_errors", "signed_in", "stepped_up"]


class StepUpResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


S = TypeVar("S", bound=StepUpResponse)


@contextlib.contextmanager
def http_errors(login_path: str) -> Iterator[None]:
    """Raise the HTTP error of a :class:`TokenwardError` raised in the block (its
    ``WWW-Authenticate`` naming ``login_path``), without the chain."""
    try:
        yield
    except TokenwardError as exc:
        raise errors.to_http(exc, login_path=login_path) from None


def signed_in(
    response: Response, pair: TokenPair, request: Request, cookies: CookieSession | None
) -> TokenResponse:
    """A sign-in's answer: ``pair``, set as cookies too under cookie sessions."""
    if cookies is not None:
        cookies.write_login(response, pair, request)
    return TokenResponse(**pair.to_json())


def stepped_up(
    model: type[S],
    response: Response,
    token: str,
    lifetime: int,
    request: Request,
    cookies: CookieSession | None,
) -> S:
    """A step-up's answer: the fresh access ``token`` as ``model``, and the access cookie alone
    under cookie sessions (the refresh cookie and its session stay as they are)."""
    if cookies is not None:
        cookies.write_access(response, token, request)
    return model(access_token=token, expires_in=lifetime)
