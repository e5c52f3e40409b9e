"""External sign-in as a service (tokenward.oauth), against real peers on loopback: the GitHub
stand-in (tests/github_server.py: a PKCE-checking token endpoint, /user, /user/emails) and the
OIDC issuer of tests/oidc_server.py (its keys sign the ID tokens whose checks are tested here).
The routes and the full browser flow are tests/test_oauth_uvicorn.py's and
tests/test_oauth_browser.py's."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from github_server import GitHubServer
from oidc_server import IssuerServer
from tokenward.exceptions import (
    ConfigurationError,
    ExternalProviderUnavailableError,
    ExternalSignInError,
    ExternalSignUpError,
    RateLimitError,
)
from tokenward.oauth import (
    AMR,
    ExternalSignIn,
    OidcSignInProvider,
    google_provider,
    pkce_challenge,
    safe_redirect,
)
from tokenward.services import Services
from tokenward.settings import AuthSettings
from tokenward.stores import UserRecord
from tokenward.stores.memory import MemoryStore

SECRET = "an oauth test secret of thirty-two bytes or more"
NOW = time.time()


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    server = GitHubServer().start()
    try:
        yield server
    finally:
        server.stop()


def settings(**overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "auth_secret": SECRET,
        "store_url": "memory://",
        "oauth_providers": "github",
        "oauth_redirect_base_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values)


def github_settings(server: GitHubServer, **overrides: Any) -> AuthSettings:
    values = {k.removeprefix("TOKENWARD_").lower(): v for k, v in server.settings().items()}
    values.update(overrides)
    return settings(**values)


def graph(config: AuthSettings) -> tuple[Services, ExternalSignIn, MemoryStore]:
    config.check()
    store = MemoryStore()
    services = Services(config, store=store, warn=False)
    assert services.oauth is not None
    return services, services.oauth, store


async def through_github(service: ExternalSignIn, **finish: Any) -> Any:
    """Begin, follow the stand-in's authorize redirect, finish with what came back."""
    started = await service.begin("github", redirect_to=finish.pop("redirect_to", None))
    async with httpx.AsyncClient() as client:
        answer = await client.get(started.url)
    assert answer.status_code == 302, answer.text
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
    options: dict[str, Any] = {"state": back["state"], "code": back["code"]}
    options["binding"] = started.binding
    options.update(finish)
    return await service.finish("github", **options)


def user(user_id: str, email: str, **fields: Any) -> UserRecord:
    return UserRecord(user_id, email, None, created_at=NOW, updated_at=NOW, **fields)


# --- the flow ---------------------------------------------------------------------------------


def test_a_first_github_sign_in_makes_a_linked_account_when_sign_up_is_open(
    github: GitHubServer,
) -> None:
    services, service, store = graph(github_settings(github, oauth_signup="open"))

    async def scenario() -> None:
        done = await through_github(service, redirect_to="/projects")
        assert done.created and done.linked and done.redirect_to == "/projects"
        assert done.user.email == "octo@example.com" and done.user.email_verified
        assert done.user.password_hash is None
        link = await store.get_linked_identity("github", "4242")
        assert link is not None and link.user_id == done.user.id
        assert services.tokens is not None
        claims = services.tokens.verify_access(done.pair.access_token)
        assert claims["sub"] == done.user.id
        stored = await store.get_user(done.user.id)
        assert stored is not None and stored.last_sign_in_at is not None
        again = await through_github(service)  # the link finds the same account
        assert again.user.id == done.user.id and not again.created and not again.linked

    asyncio.run(scenario())
    assert AMR == ("ext",)


def test_a_verified_email_links_an_existing_verified_account(github: GitHubServer) -> None:
    _, service, store = graph(github_settings(github))  # sign-up closed: linking still works

    async def scenario() -> None:
        await store.create_user(user("u-octo", "octo@example.com", email_verified=True))
        done = await through_github(service)
        assert done.user.id == "u-octo" and done.linked and not done.created

    asyncio.run(scenario())


@pytest.mark.parametrize("where", ["provider", "account"])
def test_an_unverified_email_does_not_link(github: GitHubServer, where: str) -> None:
    _, service, store = graph(github_settings(github, oauth_signup="open"))
    if where == "provider":
        github.emails[0]["verified"] = False

    async def scenario() -> None:
        verified = where == "provider"  # the other case: the account never verified its email
        await store.create_user(user("u-octo", "octo@example.com", email_verified=verified))
        with pytest.raises(ExternalSignUpError) as refused:
            await through_github(service)
        assert refused.value.reason == "email_not_verified"
        assert await store.get_linked_identity("github", "4242") is None

    asyncio.run(scenario())


def test_only_the_primary_github_email_counts(github: GitHubServer) -> None:
    github.emails = [
        {"email": "primary@example.com", "primary": True, "verified": False},
        {"email": "octo@example.com", "primary": False, "verified": True},
    ]
    _, service, store = graph(github_settings(github, oauth_signup="open"))

    async def scenario() -> None:
        await store.create_user(user("u-octo", "octo@example.com", email_verified=True))
        with pytest.raises(ExternalSignUpError) as refused:  # the primary is unverified
            await through_github(service)
        assert refused.value.reason == "email_not_verified"

    asyncio.run(scenario())


def test_closed_sign_up_refuses_an_unknown_account(github: GitHubServer) -> None:
    _, service, store = graph(github_settings(github))

    async def scenario() -> None:
        with pytest.raises(ExternalSignUpError) as refused:
            await through_github(service)
        assert refused.value.reason == "signup_closed"
        assert await store.get_user_by_email("octo@example.com") is None

    asyncio.run(scenario())


def test_a_disabled_account_is_refused(github: GitHubServer) -> None:
    _, service, store = graph(github_settings(github))

    async def scenario() -> None:
        await store.create_user(
            user("u-octo", "octo@example.com", email_verified=True, disabled=True)
        )
        with pytest.raises(ExternalSignInError) as refused:
            await through_github(service)
        assert refused.value.reason == "account_disabled"

    asyncio.run(scenario())


def test_state_misuse_is_refused(github: GitHubServer) -> None:
    _, service, _ = graph(github_settings(github, oauth_signup="open"))

    async def scenario() -> None:
        async def reason(**finish: Any) -> str:
            with pytest.raises(ExternalSignInError) as refused:
                await through_github(service, **finish)
            return refused.value.reason

        assert await reason(binding="another browser's") == "state_not_bound"
        assert await reason(binding=None) == "state_not_bound"
        assert await reason(state="made-up") == "invalid_state"
        assert await reason(state="") == "invalid_state"
        assert await reason(error="access_denied") == "provider_error"
        # a state is used once: the second callback with it is refused
        started = await service.begin("github")
        async with httpx.AsyncClient() as client:
            location = (await client.get(started.url)).headers["location"]
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        await service.finish(
            "github", state=back["state"], code=back["code"], binding=started.binding
        )
        with pytest.raises(ExternalSignInError) as replayed:
            await service.finish(
                "github", state=back["state"], code=back["code"], binding=started.binding
            )
        assert replayed.value.reason == "invalid_state"

    asyncio.run(scenario())


def test_an_expired_state_is_refused(github: GitHubServer) -> None:
    clock = [NOW]
    config = github_settings(github, oauth_signup="open")
    store = MemoryStore()
    services = Services(config, store=store, warn=False, clock=lambda: clock[0])
    service = services.oauth
    assert service is not None

    async def scenario() -> None:
        started = await service.begin("github")
        clock[0] += 600  # the ten minutes are over
        state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started.url).query))["state"]
        with pytest.raises(ExternalSignInError) as refused:
            await service.finish("github", state=state, code="c", binding=started.binding)
        assert refused.value.reason == "invalid_state"

    asyncio.run(scenario())


def test_a_wrong_pkce_verifier_is_refused_by_github_and_the_sign_in_fails(
    github: GitHubServer,
) -> None:
    """A code injected into another sign-in (its state and cookie) is exchanged with that
    sign-in's verifier, which does not match the code's challenge: the provider refuses."""
    _, service, _ = graph(github_settings(github, oauth_signup="open"))

    async def scenario() -> None:
        victim = await service.begin("github")
        attacker = await service.begin("github")
        async with httpx.AsyncClient() as client:
            location = (await client.get(attacker.url)).headers["location"]
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
        state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(victim.url).query))["state"]
        with pytest.raises(ExternalSignInError) as refused:
            await service.finish("github", state=state, code=code, binding=victim.binding)
        assert refused.value.reason == "provider_error"
        assert "invalid_code_verifier" in str(refused.value)

    asyncio.run(scenario())
    assert github.refusals == {"invalid_code_verifier": 1}


def test_the_stand_in_refuses_a_missing_verifier() -> None:
    server = GitHubServer().start()
    try:
        query = {
            "client_id": server.client_id,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "state": "s",
            "code_challenge": pkce_challenge("v" * 43),
            "code_challenge_method": "S256",
        }
        with httpx.Client(base_url=server.base) as client:
            location = client.get("/login/oauth/authorize", params=query).headers["location"]
            code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
            answer = client.post(
                "/login/oauth/access_token",
                data={
                    "client_id": server.client_id,
                    "client_secret": server.client_secret,
                    "code": code,
                    "redirect_uri": "http://127.0.0.1:9/cb",
                },
            )
        assert answer.json()["error"] == "missing_code_verifier"
    finally:
        server.stop()


def test_a_provider_that_is_down_is_503(github: GitHubServer) -> None:
    _, service, _ = graph(github_settings(github, oauth_signup="open"))
    github.token_status = 503

    async def scenario() -> None:
        with pytest.raises(ExternalProviderUnavailableError):
            await through_github(service)
        github.token_status = None
        github.stop()  # nobody listens any more
        started = await service.begin("github")  # GitHub's authorize URL needs no call
        state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started.url).query))["state"]
        with pytest.raises(ExternalProviderUnavailableError):
            await service.finish("github", state=state, code="c", binding=started.binding)

    asyncio.run(scenario())


def test_concurrent_callbacks_with_one_state_sign_in_once(github: GitHubServer) -> None:
    _, service, _ = graph(github_settings(github, oauth_signup="open"))

    async def scenario() -> None:
        started = await service.begin("github")
        async with httpx.AsyncClient() as client:
            location = (await client.get(started.url)).headers["location"]
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

        async def one() -> str:
            try:
                await service.finish(
                    "github", state=back["state"], code=back["code"], binding=started.binding
                )
            except ExternalSignInError as exc:
                return exc.reason
            return "ok"

        results = await asyncio.gather(*(one() for _ in range(16)))
        assert results.count("ok") == 1 and results.count("invalid_state") == 15

    asyncio.run(scenario())


def test_starts_are_limited_per_address(github: GitHubServer) -> None:
    _, service, _ = graph(github_settings(github))

    async def scenario() -> None:
        results = await asyncio.gather(
            *(service.begin("github", address="10.0.0.1") for _ in range(14)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, RateLimitError) for r in results) == 4
        await service.begin("github", address="10.0.0.2")  # another address is not limited

    asyncio.run(scenario())


def test_safe_redirect_keeps_only_paths_of_this_site() -> None:
    assert safe_redirect("/projects?tab=1") == "/projects?tab=1"
    for bad in ("https://evil.example", "//evil.example", "/\\evil.example", "x", "/a b", ""):
        assert safe_redirect(bad) is None


# --- the ID token checks (an OIDC provider) ------------------------------------------------------


@pytest.fixture
def issuer() -> Iterator[IssuerServer]:
    server = IssuerServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_id_token_checks(issuer: IssuerServer) -> None:
    provider = OidcSignInProvider(
        "oidc", issuer=issuer.issuer, client_id="web", client_secret="s", leeway=0
    )

    async def reason(token: str, nonce: str = "n-1") -> str:
        with pytest.raises(ExternalSignInError) as refused:
            await provider.verify_id_token(token, nonce)
        return refused.value.reason

    async def scenario() -> None:
        good = issuer.sign({"aud": "web", "nonce": "n-1", "email": "a@example.com"})
        claims = await provider.verify_id_token(good, "n-1")
        assert claims["email"] == "a@example.com"
        assert await reason(good, "n-2") == "invalid_nonce"
        assert await reason(issuer.sign({"aud": "web"})) == "invalid_nonce"
        assert await reason(issuer.sign({"aud": "other", "nonce": "n-1"})) == "invalid_id_token"
        two = {"aud": ["web", "other"], "nonce": "n-1"}
        assert await reason(issuer.sign(two)) == "invalid_id_token"  # several aud: azp needed
        assert await provider.verify_id_token(issuer.sign({**two, "azp": "web"}), "n-1")
        bad_azp = {"aud": "web", "azp": "other", "nonce": "n-1"}
        assert await reason(issuer.sign(bad_azp)) == "invalid_id_token"
        expired = {"aud": "web", "nonce": "n-1", "exp": int(time.time()) - 10}
        assert await reason(issuer.sign(expired)) == "invalid_id_token"
        assert await reason(issuer.sign({"aud": "web", "nonce": "n-1", "iss": "https://x"})) in (
            "invalid_id_token",
        )
        import tokenward as tw

        stranger = tw.JWK.generate("RS256")
        forged = issuer.sign({"aud": "web", "nonce": "n-1"}, key=stranger)
        assert await reason(forged) == "invalid_id_token"

    asyncio.run(scenario())


def test_google_is_an_oidc_provider_of_both_issuer_spellings() -> None:
    google = google_provider("id.apps.googleusercontent.com", "secret")
    assert google.issuer == "https://accounts.google.com"
    assert google.keys.url == "https://accounts.google.com/.well-known/openid-configuration"
    assert google.scopes == ("openid", "email", "profile")
    assert "secret" not in repr(google)


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"oauth_providers": "facebook"}, "OAUTH_PROVIDERS"),
        ({"oauth_providers": "google"}, "OAUTH_GOOGLE_CLIENT_ID"),
        (
            {
                "oauth_providers": "oidc",
                "oauth_oidc_client_id": "c",
                "oauth_oidc_client_secret": "s",
            },
            "OAUTH_OIDC_ISSUER",
        ),
        ({"oauth_redirect_base_url": None}, "OAUTH_REDIRECT_BASE_URL"),
        ({"oauth_github_api_url": "http://api.example.com"}, "OAUTH_GITHUB_API_URL"),
        ({"auth_provider": "cognito"}, "AUTH_PROVIDER=custom"),
        ({"environment": "staging", "oauth_redirect_base_url": "http://api.example.com"}, ""),
    ],
)
def test_settings_refuse_what_cannot_run(overrides: dict[str, Any], named: str) -> None:
    values = {
        "oauth_github_client_id": "c",
        "oauth_github_client_secret": "s",
        "cognito_region": "eu-west-1",
        "cognito_user_pool_id": "eu-west-1_abc",
        "cognito_app_client_id": "x",
        "allow_custom_auth_in_production": True,
    }
    values.update(overrides)
    with pytest.raises(ConfigurationError) as refused:
        settings(**values).check()
    assert named in str(refused.value)


def test_secrets_do_not_print() -> None:
    config = settings(oauth_github_client_id="c", oauth_github_client_secret="gh-very-secret")
    config.check()
    assert "gh-very-secret" not in repr(config) and "gh-very-secret" not in str(config)
