"""tokenward.authenticator, framework-free: any and all, ownership, challenges."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

import tokenward as tw
from tokenward._core import DebugTokens
from tokenward.authenticator import Authenticator
from tokenward.exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidCredentialsError,
    InvalidTokenError,
    NotAuthenticatedError,
)
from tokenward.principal import Principal
from tokenward.providers import CustomProvider
from tokenward.settings import AuthSettings
from tokenward.stores.sqlite import SQLiteStore
from tokenward.strategies import AccessTokenStrategy, BasicStrategy, Credentials, VerifierStrategy
from tokenward.tokens import TokenService

T = TypeVar("T")
SECRET = "authenticator-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PARTNER = "https://partner.example"
BASIC_CHALLENGE = 'Basic realm="ops", charset="UTF-8"'


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def check(user: str, password: str) -> Principal | None:
    if (user, password) == ("ada", "right"):
        return Principal(subject="ada", credential_type="basic")
    return None


@pytest.fixture(scope="module")
def service() -> TokenService:
    return TokenService(DebugTokens(SECRET), SQLiteStore())


@pytest.fixture(scope="module")
def jwt(service: TokenService) -> AccessTokenStrategy:
    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET)
    return AccessTokenStrategy(CustomProvider(service, settings))


@pytest.fixture(scope="module")
def key() -> tw.JWK:
    return tw.JWK.generate("ES256")


@pytest.fixture(scope="module")
def partner(key: tw.JWK) -> VerifierStrategy:
    verifier = tw.Verifier(key.public(), algorithms=["ES256"], issuer=PARTNER)
    return VerifierStrategy(verifier, name="partner", issuer=PARTNER)


@pytest.fixture(scope="module")
def basic_strategy() -> BasicStrategy:
    return BasicStrategy(check, realm="ops")


def own(service: TokenService) -> str:
    return "Bearer " + service.issue_access(Principal(subject="u1", credential_type="access_token"))


def theirs(key: tw.JWK, **claims: Any) -> str:
    now = int(time.time())
    return "Bearer " + tw.encode(
        {"iss": PARTNER, "sub": "svc", "iat": now, "exp": now + 60, **claims}, key
    )


def test_needs_strategies_and_a_mode(jwt: AccessTokenStrategy) -> None:
    with pytest.raises(ConfigurationError):
        Authenticator([])
    with pytest.raises(ConfigurationError):
        Authenticator([jwt], mode="some")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="twice"):
        Authenticator([jwt, jwt])
    assert Authenticator([jwt]).names == ("jwt",)
    assert "any" in repr(Authenticator([jwt]))


def test_any_first_success_wins(
    jwt: AccessTokenStrategy,
    partner: VerifierStrategy,
    basic_strategy: BasicStrategy,
    service: TokenService,
    key: tw.JWK,
) -> None:
    auth = Authenticator([jwt, partner, basic_strategy])
    assert run(auth.authenticate(Credentials(own(service)))).provider == "custom"
    assert run(auth.authenticate(Credentials(theirs(key)))).provider == "partner"
    assert run(auth.authenticate(Credentials(basic("ada", "right")))).subject == "ada"


def test_any_the_owner_of_a_shape_answers(
    jwt: AccessTokenStrategy,
    partner: VerifierStrategy,
    basic_strategy: BasicStrategy,
    service: TokenService,
    key: tw.JWK,
) -> None:
    auth = Authenticator([jwt, partner, basic_strategy])
    # a forged partner token is the partner's to refuse; nothing after it is asked
    with pytest.raises(InvalidTokenError) as caught:
        run(auth.authenticate(Credentials(theirs(tw.JWK.generate("ES256")))))
    assert caught.value.challenges == (
        'Bearer error="invalid_token", error_description="The access token is not valid"',
        BASIC_CHALLENGE,
    )
    assert "HTTP Basic" in caught.value.accepted
    with pytest.raises(InvalidCredentialsError) as wrong:
        run(auth.authenticate(Credentials(basic("ada", "wrong"))))
    assert wrong.value.challenges == ("Bearer", BASIC_CHALLENGE)


def test_any_with_nothing_sent_lists_every_challenge(
    jwt: AccessTokenStrategy, basic_strategy: BasicStrategy
) -> None:
    auth = Authenticator([jwt, basic_strategy])
    for header in (None, "Digest abc", "Negotiate"):
        with pytest.raises(NotAuthenticatedError) as caught:
            run(auth.authenticate(Credentials(header)))
        assert caught.value.challenges == ("Bearer", BASIC_CHALLENGE)
        assert "access token" in str(caught.value) and "HTTP Basic" in str(caught.value)


def test_any_a_token_nobody_serves(
    jwt: AccessTokenStrategy, basic_strategy: BasicStrategy, key: tw.JWK
) -> None:
    # Basic first: the bearer challenge still gets the error, as the bearer was refused
    auth = Authenticator([basic_strategy, jwt])
    with pytest.raises(InvalidTokenError) as caught:
        run(auth.authenticate(Credentials(theirs(key))))
    assert caught.value.challenges == (
        BASIC_CHALLENGE,
        'Bearer error="invalid_token", error_description="The access token is not valid"',
    )


def test_all_needs_every_strategy(
    jwt: AccessTokenStrategy, partner: VerifierStrategy, basic_strategy: BasicStrategy
) -> None:
    auth = Authenticator([basic_strategy, jwt], mode="all")
    with pytest.raises(NotAuthenticatedError):
        run(auth.authenticate(Credentials()))
    # Basic proven, the token missing: a refusal, not "not signed in"
    with pytest.raises(AuthenticationError) as caught:
        run(auth.authenticate(Credentials(basic("ada", "right"))))
    assert not isinstance(caught.value, NotAuthenticatedError)
    assert "is missing" in str(caught.value)
    with pytest.raises(InvalidCredentialsError):
        run(auth.authenticate(Credentials(basic("ada", "wrong"))))


def test_all_identity_is_the_first_ones(
    jwt: AccessTokenStrategy, service: TokenService, key: tw.JWK
) -> None:
    # two bearer strategies cannot both see one header, so "all" over a token and a
    # second token-reading strategy of the same issuer proves the same token twice
    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET)
    again = AccessTokenStrategy(CustomProvider(service, settings), name="jwt-again")
    auth = Authenticator([jwt, again], mode="all")
    principal = run(auth.authenticate(Credentials(own(service))))
    assert principal.subject == "u1"
    with pytest.raises(InvalidTokenError):
        run(auth.authenticate(Credentials("Bearer x.y.z")))
