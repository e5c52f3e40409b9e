"""AuthSettings: the environment, the prefix, and every refusal naming its variable."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from _fastapi_support import EMAIL, PASSWORD, SECRET, TestClient, bearer, login
from tokenward import ConfigurationError
from tokenward.fastapi import Auth, AuthSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No TOKENWARD_* / VEGA_* variable of the machine leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.upper().startswith(("TOKENWARD_", "VEGA_")):
            monkeypatch.delenv(name)
    yield


def test_defaults() -> None:
    settings = AuthSettings.from_env()
    assert settings.auth_provider == "custom"
    assert settings.auth_secret is None
    assert settings.debug_email == "debug@example.com"
    assert settings.debug_password.get_secret_value() == "vega-debug-password"
    assert settings.groups == ("root", "operator")
    assert settings.debug_user_scopes == ()
    assert settings.access_token_lifetime == dt.timedelta(minutes=15)
    assert settings.refresh_token_lifetime == dt.timedelta(days=7)
    assert settings.refresh_reuse_grace == dt.timedelta(seconds=10)
    assert settings.store_url == ":memory:"
    assert settings.environment == "development"
    assert settings.env_prefix == "TOKENWARD_"
    assert settings.var("auth_secret") == "TOKENWARD_AUTH_SECRET"
    assert settings.token_cache_size == 1024


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_DEBUG_GROUPS", "admins, operator  readers")
    monkeypatch.setenv("TOKENWARD_DEBUG_SCOPES", '["reports:read", "reports:write"]')
    monkeypatch.setenv("TOKENWARD_ACCESS_TOKEN_LIFETIME", "300")
    monkeypatch.setenv("TOKENWARD_REFRESH_TOKEN_LIFETIME", "P1D")
    monkeypatch.setenv("TOKENWARD_REFRESH_REUSE_GRACE", "PT5S")
    monkeypatch.setenv("tokenward_environment", "staging")
    monkeypatch.setenv("TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION", "true")
    settings = AuthSettings.from_env()
    assert settings.auth_secret is not None
    assert settings.auth_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    assert settings.groups == ("admins", "operator", "readers")
    assert settings.debug_user_scopes == ("reports:read", "reports:write")
    assert settings.access_token_lifetime == dt.timedelta(seconds=300)
    assert settings.refresh_token_lifetime == dt.timedelta(days=1)
    assert settings.refresh_reuse_grace == dt.timedelta(seconds=5)
    assert settings.environment == "staging"
    settings.check()


def test_lifetimes_reach_the_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_ACCESS_TOKEN_LIFETIME", "120")
    auth = Auth.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        tokens = login(client)
        assert tokens["expires_in"] == 120
        claims = client.get("/v1/auth/me", headers=bearer(tokens["access_token"])).json()["claims"]
        assert claims["exp"] - claims["iat"] == 120


def test_custom_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEGA_AUTH_PROVIDER", "custom")
    monkeypatch.setenv("VEGA_AUTH_SECRET", SECRET)
    monkeypatch.setenv("VEGA_COGNITO_REGION", "eu-west-1")
    monkeypatch.setenv("VEGA_COGNITO_USER_POOL_ID", "eu-west-1_pool")
    monkeypatch.setenv("VEGA_COGNITO_APP_CLIENT_ID", "abc123")
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", "too short")  # another prefix: ignored
    settings = AuthSettings.from_env(prefix="VEGA_")
    assert settings.env_prefix == "VEGA_"
    assert settings.auth_secret is not None
    assert settings.auth_secret.get_secret_value() == SECRET
    assert (settings.cognito_region, settings.cognito_user_pool_id) == (
        "eu-west-1",
        "eu-west-1_pool",
    )
    assert settings.cognito_app_client_id == "abc123"
    settings.check()


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_DEBUG_EMAIL", "env@example.com")
    settings = AuthSettings.from_env(debug_email="code@example.com")
    assert settings.debug_email == "code@example.com"


# --- refusals -------------------------------------------------------------------------------------


def refused(prefix: str = "TOKENWARD_") -> str:
    with pytest.raises(ConfigurationError) as info:
        Auth.from_env(prefix=prefix)
    return str(info.value)


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", "x" * 31)
    message = refused()
    assert "TOKENWARD_AUTH_SECRET" in message
    assert "31 bytes" in message
    assert "x" * 31 not in message


def test_short_secret_counts_bytes_not_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", "é" * 16)  # 32 bytes in UTF-8
    Auth.from_env()
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", "é" * 15 + "e")  # 31 bytes
    assert "TOKENWARD_AUTH_SECRET" in refused()


def test_empty_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", "")
    assert "TOKENWARD_AUTH_SECRET" in refused()


def test_short_secret_refusal_names_the_prefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEGA_AUTH_SECRET", "short")
    assert "VEGA_AUTH_SECRET" in refused("VEGA_")


@pytest.mark.parametrize("environment", ["production", "PROD", "Production ", "live"])
def test_custom_auth_refuses_production(monkeypatch: pytest.MonkeyPatch, environment: str) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_ENVIRONMENT", environment)
    message = refused()
    assert "TOKENWARD_ENVIRONMENT" in message
    assert "TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION" in message


def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENVIRONMENT=production with ALLOW_CUSTOM_AUTH_IN_PRODUCTION, cheap Argon2 for the tests."""
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_ENVIRONMENT", "production")
    monkeypatch.setenv("TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION", "true")
    monkeypatch.setenv("TOKENWARD_PASSWORD_HASH_PASSES", "2")
    monkeypatch.setenv("TOKENWARD_PASSWORD_HASH_MEMORY_KIB", "19456")


def test_production_can_be_allowed_explicitly_and_signs_in_accounts_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 22: outside development /v1/auth/login (and Auth.login) sign in accounts only; the
    debug user, even with its published password, is a development-only sign-in."""
    production(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        auth = Auth.from_env()  # the published debug password is no matter: its login is off
    [warning] = [r.getMessage() for r in caplog.records if "custom auth" in r.getMessage()]
    assert "TOKENWARD_ENVIRONMENT='production' is not development" in warning
    assert "TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION=true" in warning
    assert "accounts sign in; the debug login is off (development only)" in warning
    assert not [r for r in caplog.records if "ignored" in r.getMessage()]
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        response = client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 401
        assert client.portal.call(auth.login, EMAIL, PASSWORD) is None
        assert auth.api is not None
        client.portal.call(auth.api.create_user, "ops@example.com", "a passphrase for prod")
        tokens = login(client, email="ops@example.com", password="a passphrase for prod")
        me = client.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200 and me.json()["email"] == "ops@example.com"


def test_a_debug_session_made_in_development_does_not_refresh_outside_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A session the debug login started in development, on a store then used by a deployment
    outside development: its refresh is refused there (the debug login is development-only)."""
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_STORE_URL", f"sqlite:///{tmp_path / 'shared.db'}")

    def app_of(auth: Auth) -> FastAPI:
        app = FastAPI(lifespan=auth.lifespan)
        app.include_router(auth.router)
        return app

    with TestClient(app_of(Auth.from_env())) as client:
        refresh = login(client)["refresh_token"]
    production(monkeypatch)
    with TestClient(app_of(Auth.from_env())) as client:
        response = client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert response.status_code == 401, response.text


def test_production_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_ENVIRONMENT", "production")
    monkeypatch.setenv("TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION", "1")
    assert "TOKENWARD_AUTH_SECRET" in refused()


@pytest.mark.parametrize("environment", ["staging", "qa"])
def test_no_secret_outside_development_is_refused(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("TOKENWARD_ENVIRONMENT", environment)
    monkeypatch.setenv("TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION", "true")
    message = refused()
    assert "TOKENWARD_AUTH_SECRET" in message
    assert environment in message


def test_no_secret_in_development_means_a_random_one_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        first = Auth.from_env()
        second = Auth.from_env()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "random secret" in r.getMessage()
    ]
    assert len(warnings) == 2
    assert "TOKENWARD_AUTH_SECRET" in warnings[0]
    assert "will not survive a restart" in warnings[0]
    # two processes (here: two Auths) do not accept each other's tokens
    apps = []
    for auth in (first, second):
        app = FastAPI(lifespan=auth.lifespan)
        app.include_router(auth.router)
        apps.append(app)
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        token = login(one)["access_token"]
        assert one.get("/v1/auth/me", headers=bearer(token)).status_code == 200
        assert two.get("/v1/auth/me", headers=bearer(token)).status_code == 401


def test_cognito_without_its_settings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_PROVIDER", "cognito")
    monkeypatch.setenv("TOKENWARD_COGNITO_REGION", "eu-west-1")
    message = refused()
    assert "TOKENWARD_AUTH_PROVIDER=cognito needs" in message
    assert "TOKENWARD_COGNITO_USER_POOL_ID" in message
    assert "TOKENWARD_COGNITO_APP_CLIENT_ID" in message
    assert "TOKENWARD_COGNITO_REGION" not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTH_PROVIDER", "ldap"),
        ("ACCESS_TOKEN_LIFETIME", "fifteen minutes"),
        ("ALLOW_CUSTOM_AUTH_IN_PRODUCTION", "perhaps"),
        ("DEBUG_EMAIL", "x"),
    ],
)
def test_unreadable_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("VEGA_" + variable, value)
    message = refused("VEGA_")
    assert "VEGA_" + variable in message
    assert value not in message or value == "x"


def test_unreadable_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_AUTH_PROVIDER", "bogus")
    assert SECRET not in refused()


def test_broken_json_list_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_DEBUG_GROUPS", '["unterminated')
    with pytest.raises(ConfigurationError):
        Auth.from_env()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCESS_TOKEN_LIFETIME", "0"),
        ("ACCESS_TOKEN_LIFETIME", "172800"),
        ("REFRESH_TOKEN_LIFETIME", "30"),
        ("REFRESH_TOKEN_LIFETIME", "P400D"),
        ("REFRESH_REUSE_GRACE", "3600"),
        ("ACCESS_TOKEN_LIFETIME", "PT0.5S"),
    ],
)
def test_lifetimes_out_of_bounds_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_" + variable, value)
    assert "TOKENWARD_" + variable in refused()


@pytest.mark.parametrize("value", ["-1", "1000001", "many", "1.5"])
def test_token_cache_size_out_of_bounds_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_TOKEN_CACHE_SIZE", value)
    assert "TOKENWARD_TOKEN_CACHE_SIZE" in refused()


def test_token_cache_serves_the_custom_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    auth = Auth.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        token = login(client)["access_token"]
        for _ in range(3):
            assert client.get("/v1/auth/me", headers=bearer(token)).status_code == 200
    info = auth.tokens.tokens.cache_info()
    assert info is not None
    assert info["capacity"] == 1024
    assert (info["hits"], info["misses"], info["size"]) == (2, 1, 1)


def test_token_cache_size_zero_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_TOKEN_CACHE_SIZE", "0")
    assert Auth.from_env().tokens.tokens.cache_info() is None
    monkeypatch.setenv("TOKENWARD_TOKEN_CACHE_SIZE", "16")
    info = Auth.from_env().tokens.tokens.cache_info()
    assert info is not None and info["capacity"] == 16


@pytest.mark.parametrize(("value", "capacity"), [(None, 1024), ("0", None), ("16", 16)])
def test_token_cache_serves_the_cognito_provider(
    monkeypatch: pytest.MonkeyPatch, value: str | None, capacity: int | None
) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_PROVIDER", "cognito")
    monkeypatch.setenv("TOKENWARD_COGNITO_REGION", "eu-west-1")
    monkeypatch.setenv("TOKENWARD_COGNITO_USER_POOL_ID", "eu-west-1_AbC123")
    monkeypatch.setenv("TOKENWARD_COGNITO_APP_CLIENT_ID", "client-a")
    if value is not None:
        monkeypatch.setenv("TOKENWARD_TOKEN_CACHE_SIZE", value)
    auth = Auth.from_env()
    assert auth.cognito is not None
    access_verifier = auth.cognito._pools[auth.cognito.issuers[0]].access
    info = access_verifier.cache_info()
    assert (info and info["capacity"]) == capacity
    assert auth.tokens is None  # Cognito signs users in: no custom tokens are even built


def test_refresh_must_outlive_access(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_ACCESS_TOKEN_LIFETIME", "3600")
    monkeypatch.setenv("TOKENWARD_REFRESH_TOKEN_LIFETIME", "600")
    assert "TOKENWARD_REFRESH_TOKEN_LIFETIME" in refused()


@pytest.mark.parametrize("url", ["mysql://localhost/db", "sqlite://relative.db", "  "])
def test_unusable_store_url_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_STORE_URL", url)
    refused()


def test_store_in_a_missing_directory_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("TOKENWARD_STORE_URL", f"sqlite:///{tmp_path}/missing/dir/x.db")
    auth = Auth.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    with pytest.raises(ConfigurationError, match="does not exist"), TestClient(app):
        pass


@pytest.mark.parametrize("password", ["a", "VEGA-DEBUG-PASSWORD", "a-real-password-here"])
def test_outside_development_the_debug_settings_are_ignored_and_said_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, password: str
) -> None:
    """Issue 20 item 7 refused a weak DEBUG_PASSWORD under ALLOW_CUSTOM_AUTH_IN_PRODUCTION;
    since issue 22 the debug login is off outside development, so no DEBUG_PASSWORD opens a
    door there: start-up says it is ignored (never echoing it) and that accounts sign in."""
    production(monkeypatch)
    monkeypatch.setenv("TOKENWARD_DEBUG_PASSWORD", password)
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        auth = Auth.from_env()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "names development" not in text
    assert "the debug login is off (development only)" in text
    assert "TOKENWARD_DEBUG_PASSWORD is ignored" in text
    assert len(password) < 2 or password not in text  # never echoed
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        response = client.post("/v1/auth/login", json={"email": EMAIL, "password": password})
        assert response.status_code == 401


@pytest.mark.parametrize("provider", ["custom", "cognito"])
@pytest.mark.parametrize("secret", [" " * 32, "\t" * 40, " \n " * 20])
def test_a_blank_auth_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch, secret: str, provider: str
) -> None:
    """Issue 20 item 7: an AUTH_SECRET of 32 spaces was accepted (it is 32 bytes); a secret of
    white space only is refused, with the variable and why."""
    monkeypatch.setenv("TOKENWARD_AUTH_PROVIDER", provider)
    monkeypatch.setenv("TOKENWARD_COGNITO_REGION", "us-west-1")
    monkeypatch.setenv("TOKENWARD_COGNITO_USER_POOL_ID", "us-west-1_abc")
    monkeypatch.setenv("TOKENWARD_COGNITO_APP_CLIENT_ID", "client")
    monkeypatch.setenv("TOKENWARD_AUTH_SECRET", secret)
    message = refused()
    assert "TOKENWARD_AUTH_SECRET is blank" in message


def test_unknown_variables_are_warned_about_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20 item 22: a misspelled variable (MYAPP_ENVIROMENT) was silently ignored. Building
    the Auth warns about each <PREFIX>* variable that names no setting, with the closest one."""
    monkeypatch.setenv("MYAPP_ENVIROMENT", "production")
    monkeypatch.setenv("myapp_auth_secert", SECRET)
    monkeypatch.setenv("MYAPP_XYZZY", "1")
    monkeypatch.setenv("MYAPP_DEBUG_GROUPS", "ops")  # a setting: not reported
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        Auth.from_env(prefix="MYAPP_")
    warnings = [r.getMessage() for r in caplog.records if "is not a setting" in r.getMessage()]
    assert warnings == [
        "tokenward: MYAPP_ENVIROMENT is not a setting and is ignored "
        "(did you mean MYAPP_ENVIRONMENT?)",
        "tokenward: MYAPP_XYZZY is not a setting and is ignored (no setting has a name like it)",
        "tokenward: myapp_auth_secert is not a setting and is ignored "
        "(did you mean MYAPP_AUTH_SECRET?)",
    ]
    # The default prefix leaves tokenward's own tools' variables alone.
    from tokenward.settings import unknown_variables

    tools = {"TOKENWARD_PG_BIN": "x", "TOKENWARD_TEST_RBAC_ROLES": "{}", "TOKENWARD_ROLE": "x"}
    assert unknown_variables("TOKENWARD_", tools) == [("TOKENWARD_ROLE", "TOKENWARD_ROLES")]
    assert unknown_variables("", {"PATH": "/bin"}) == []
