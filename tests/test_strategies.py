"""tokenward.strategies, framework-free: credentials, challenges and each strategy's answers."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

import tokenward as tw
from tokenward._core import DebugTokens
from tokenward.cognito import CognitoVerifier
from tokenward.exceptions import (
    ConfigurationError,
    InvalidClaimError,
    InvalidCredentialsError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MalformedTokenError,
)
from tokenward.principal import Principal, from_cognito_claims
from tokenward.providers import CustomProvider
from tokenward.settings import AuthSettings
from tokenward.stores.sqlite import SQLiteStore
from tokenward.strategies import (
    MAX_CREDENTIAL_CHARS,
    AccessTokenStrategy,
    BasicStrategy,
    Credentials,
    GatewayStrategy,
    Strategy,
    VerifierStrategy,
    basic_challenge,
    bearer_challenge,
    decode_basic,
)
from tokenward.tokens import TokenService

T = TypeVar("T")
SECRET = "strategy-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PARTNER = "https://partner.example"
POOL = "eu-west-1_Strat1"
CLIENT = "strategy-client"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def service() -> TokenService:
    return TokenService(DebugTokens(SECRET, issuer="tokenward"), SQLiteStore())


@pytest.fixture(scope="module")
def jwt(service: TokenService) -> AccessTokenStrategy:
    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET)
    return AccessTokenStrategy(CustomProvider(service, settings))


@pytest.fixture(scope="module")
def partner_key() -> tw.JWK:
    return tw.JWK.generate("ES256")


@pytest.fixture(scope="module")
def partner(partner_key: tw.JWK) -> VerifierStrategy:
    verifier = tw.Verifier(partner_key.public(), algorithms=["ES256"], issuer=PARTNER)
    return VerifierStrategy(verifier, name="partner", issuer=PARTNER)


def partner_token(key: tw.JWK, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": PARTNER, "sub": "svc-7", "iat": now, "exp": now + 300, "scope": "a b"}
    body.update(claims)
    return tw.encode(body, key)


def own_token(service: TokenService, **kwargs: Any) -> str:
    who = Principal(subject="u1", credential_type="access_token", groups=("ops",), **kwargs)
    return service.issue_access(who)


# --- credentials and challenges -------------------------------------------------------------


def test_credentials_read_the_scheme_case_insensitively() -> None:
    creds = Credentials("  bEaReR   abc  ")
    assert creds.scheme == "bearer"
    assert creds.bearer() == "abc"
    assert creds.scheme_param("basic") is None
    assert Credentials("Bearer").bearer() == ""
    assert Credentials(None).scheme is None and Credentials(None).bearer() is None


@pytest.mark.parametrize(
    ("event", "claims"),
    [
        ({"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "x"}}}}}, {"sub": "x"}),
        ({"requestContext": {"authorizer": {"claims": {"sub": "y"}}}}, {"sub": "y"}),
        ({"requestContext": {"authorizer": {"jwt": {"claims": {}}}}}, None),
        ({"requestContext": {"authorizer": {"lambda": {"sub": "z"}}}}, None),
        ({"requestContext": {"authorizer": "nope"}}, None),
        ({"requestContext": []}, None),
        ({}, None),
    ],
)
def test_gateway_claims_of_both_api_gateway_shapes(event: Any, claims: Any) -> None:
    assert Credentials(event=event).gateway_claims() == claims


def test_challenges_quote_safely() -> None:
    assert bearer_challenge() == "Bearer"
    assert bearer_challenge("invalid_token", 'say "hi"\\') == (
        'Bearer error="invalid_token", error_description="say hi"'
    )
    assert basic_challenge('my "realm"é') == 'Basic realm="my realm", charset="UTF-8"'


def test_every_strategy_is_a_strategy(jwt: AccessTokenStrategy, partner: VerifierStrategy) -> None:
    async def check(user: str, password: str) -> Principal | None:
        return None

    gateway = GatewayStrategy(CognitoVerifier(None, POOL, CLIENT, trust_gateway=True))
    for strategy in (jwt, partner, BasicStrategy(check), gateway):
        assert isinstance(strategy, Strategy)
        assert strategy.name and strategy.hint
        assert repr(strategy).startswith("<")


# --- HTTP Basic (RFC 7617) ------------------------------------------------------------------


def test_decode_basic() -> None:
    assert decode_basic(base64.b64encode(b"ada:s3:cr:et").decode()) == ("ada", "s3:cr:et")
    assert decode_basic(base64.b64encode("zoë:pässwörd".encode()).decode()) == (
        "zoë",
        "pässwörd",
    )
    assert decode_basic(base64.b64encode(b"ada:").decode()) == ("ada", "")


@pytest.mark.parametrize(
    "param",
    [
        "",
        "not base64!",
        base64.b64encode(b"no-colon").decode(),
        base64.b64encode(b":password").decode(),
        base64.b64encode("zoë:x".encode("latin-1")).decode(),  # not UTF-8
        base64.b64encode(b"ada:pa\x00ss").decode(),
        base64.b64encode(b"ada:pass").decode().rstrip("="),  # padding dropped
        "YWRhOnB=",  # non-canonical: unused bits set
        "A" * (MAX_CREDENTIAL_CHARS + 4),
        "YWRh OnBhc3M=",
    ],
)
def test_decode_basic_is_strict(param: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        decode_basic(param)


def test_basic_strategy_calls_the_check_and_marks_the_principal() -> None:
    seen: list[tuple[str, str]] = []

    async def check(user: str, password: str) -> Principal | None:
        seen.append((user, password))
        if (user, password) == ("ada", "right"):
            return Principal(subject="ada", credential_type="access_token", groups=("ops",))
        return None

    strategy = BasicStrategy(check, realm="ops")
    principal = run(strategy.authenticate(Credentials(basic("ada", "right"))))
    assert principal is not None
    assert principal.credential_type == "basic" and principal.groups == ("ops",)
    with pytest.raises(InvalidCredentialsError):
        run(strategy.authenticate(Credentials(basic("ada", "wrong"))))
    assert run(strategy.authenticate(Credentials("Bearer abc"))) is None
    assert run(strategy.authenticate(Credentials())) is None
    assert seen == [("ada", "right"), ("ada", "wrong")]
    assert strategy.challenge(None) == 'Basic realm="ops", charset="UTF-8"'


def test_basic_check_returning_something_else_is_a_configuration_error() -> None:
    async def check(user: str, password: str) -> Any:
        return {"sub": user}

    with pytest.raises(ConfigurationError, match="Principal or None"):
        run(BasicStrategy(check).authenticate(Credentials(basic("ada", "x"))))


# --- tokens ---------------------------------------------------------------------------------


def test_access_token_strategy(jwt: AccessTokenStrategy, service: TokenService) -> None:
    principal = run(jwt.authenticate(Credentials("Bearer " + own_token(service))))
    assert principal is not None
    assert (principal.subject, principal.groups, principal.provider) == ("u1", ("ops",), "custom")
    assert run(jwt.authenticate(Credentials())) is None
    assert run(jwt.authenticate(Credentials(basic("a", "b")))) is None
    assert run(jwt.authenticate(Credentials("Bearer vk_abc"))) is None  # the API-key strategy's
    with pytest.raises(MalformedTokenError):
        run(jwt.authenticate(Credentials("Bearer ")))
    with pytest.raises(MalformedTokenError):
        run(jwt.authenticate(Credentials("Bearer " + "x" * (MAX_CREDENTIAL_CHARS + 1))))
    with pytest.raises(InvalidTokenError):
        run(jwt.authenticate(Credentials("Bearer not.a.token")))


def test_a_token_of_another_issuer_is_not_the_providers(
    jwt: AccessTokenStrategy, partner: VerifierStrategy, partner_key: tw.JWK
) -> None:
    token = partner_token(partner_key)
    assert run(jwt.authenticate(Credentials("Bearer " + token))) is None
    principal = run(partner.authenticate(Credentials("Bearer " + token)))
    assert principal is not None
    assert (principal.subject, principal.scopes, principal.provider) == (
        "svc-7",
        ("a", "b"),
        "partner",
    )


def test_own_token_is_not_the_partners(
    partner: VerifierStrategy, service: TokenService, partner_key: tw.JWK
) -> None:
    assert run(partner.authenticate(Credentials("Bearer " + own_token(service)))) is None
    forged = partner_token(tw.JWK.generate("ES256"))  # the partner's issuer, another key
    with pytest.raises(InvalidSignatureError):
        run(partner.authenticate(Credentials("Bearer " + forged)))


def test_a_token_without_an_issuer_belongs_to_nobody(
    jwt: AccessTokenStrategy, partner: VerifierStrategy, partner_key: tw.JWK
) -> None:
    token = partner_token(partner_key, iss=None)
    assert run(partner.authenticate(Credentials("Bearer " + token))) is None
    assert run(jwt.authenticate(Credentials("Bearer " + token))) is None


def test_verifier_strategy_needs_a_verifier() -> None:
    with pytest.raises(ConfigurationError):
        VerifierStrategy(object(), name="x")


def test_verifier_strategy_maps_cognito_claims(partner_key: tw.JWK) -> None:
    verifier = tw.Verifier(partner_key.public(), algorithms=["ES256"], issuer=PARTNER)
    strategy = VerifierStrategy(verifier, name="pool", mapper=from_cognito_claims, issuer=PARTNER)
    token = partner_token(partner_key, **{"cognito:groups": ["a"]})
    principal = run(strategy.authenticate(Credentials("Bearer " + token)))
    assert principal is not None and principal.groups == ("a",)
    bad = partner_token(partner_key, **{"cognito:groups": [1, "root"]})
    with pytest.raises(InvalidClaimError):
        run(strategy.authenticate(Credentials("Bearer " + bad)))


# --- gateway claims -------------------------------------------------------------------------


def gateway_event(**claims: Any) -> dict[str, Any]:
    base = {
        "iss": f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}",
        "sub": "g-1",
        "token_use": "access",
        "client_id": CLIENT,
        "exp": str(int(time.time()) + 300),
        "cognito:groups": "[ops root]",
        "scope": "users.read",
    }
    base.update(claims)
    return {"requestContext": {"authorizer": {"jwt": {"claims": base}}}}


def test_gateway_strategy() -> None:
    verifier = CognitoVerifier(None, POOL, CLIENT, trust_gateway=True)
    strategy = GatewayStrategy(verifier)
    principal = run(strategy.authenticate(Credentials(event=gateway_event())))
    assert principal is not None
    assert principal.credential_type == "gateway"
    assert principal.groups == ("ops", "root") and principal.scopes == ("users.read",)
    assert run(strategy.authenticate(Credentials("Bearer x"))) is None
    assert strategy.challenge(None) is None
    with pytest.raises(InvalidIssuerError):
        run(strategy.authenticate(Credentials(event=gateway_event(iss="https://evil"))))
    with pytest.raises(InvalidTokenError):
        run(strategy.authenticate(Credentials(event=gateway_event(client_id="other"))))
    with pytest.raises(InvalidTokenError):
        run(strategy.authenticate(Credentials(event=gateway_event(exp="1000"))))
    with pytest.raises(InvalidClaimError):
        run(strategy.authenticate(Credentials(event=gateway_event(**{"cognito:groups": [1]}))))


def test_gateway_strategy_needs_trust() -> None:
    with pytest.raises(ConfigurationError):
        GatewayStrategy(CognitoVerifier(None, POOL, CLIENT))
