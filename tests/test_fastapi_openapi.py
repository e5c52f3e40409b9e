"""tokenward.fastapi.openapi: the ``tokenward`` security scheme written for the provider, the
wrapper installed once, and Swagger UI's OAuth set-up for Cognito's hosted UI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Security

from tokenward.fastapi import CurrentUser, require_current_user
from tokenward.fastapi.openapi import COGNITO_SCOPES, install_openapi, required_scopes
from tokenward.settings import AuthSettings

SECRET = "openapi-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
COGNITO = {
    "auth_provider": "cognito",
    "environment": "production",
    "cognito_region": "us-west-1",
    "cognito_user_pool_id": "us-west-1_abc",
    "cognito_app_client_id": "client-1",
}


def _settings(**values: Any) -> AuthSettings:
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/reports")
    def reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> dict[str, Any]:
        return {}

    return app


def _scheme(settings: AuthSettings, login_path: str | None) -> dict[str, Any]:
    app = _app()
    install_openapi(app, settings, settings.rbac(), login_path)
    scheme: dict[str, Any] = app.openapi()["components"]["securitySchemes"]["tokenward"]
    return scheme


def test_the_custom_provider_shows_its_password_flow() -> None:
    settings = _settings(auth_secret=SECRET, debug_scopes="reports:read")
    scheme = _scheme(settings, "/v1/auth/login")
    flow = scheme["flows"]["password"]
    assert scheme["type"] == "oauth2"
    assert flow["tokenUrl"] == "/v1/auth/login" and flow["refreshUrl"] == "/v1/auth/refresh"
    assert "reports:read" in flow["scopes"]
    assert "TOKENWARD_TEST_ISOLATED_DEBUG_EMAIL" in scheme["description"]


def test_outside_development_the_password_flow_names_accounts_only() -> None:
    settings = _settings(
        auth_secret=SECRET,
        debug_scopes="reports:read",
        environment="production",
        allow_custom_auth_in_production=True,
    )
    scheme = _scheme(settings, "/v1/auth/login")
    assert "an account's." in scheme["description"]
    assert "DEBUG" not in scheme["description"]
    assert "reports:read" not in scheme["flows"]["password"]["scopes"]


def test_cognito_with_a_domain_shows_the_hosted_ui_and_the_routes_scopes() -> None:
    settings = _settings(**COGNITO, cognito_domain="auth.example.com")
    app = _app()
    install_openapi(app, settings, settings.rbac(), None)
    schema = app.openapi()
    flow = schema["components"]["securitySchemes"]["tokenward"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://auth.example.com/oauth2/authorize"
    assert set(flow["scopes"]) == {*COGNITO_SCOPES, "reports:read"}
    assert required_scopes(schema) == ["reports:read"]
    assert app.swagger_ui_init_oauth == {
        "clientId": "client-1",
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": "openid email profile",
    }


def test_cognito_without_a_domain_is_a_bearer_scheme() -> None:
    scheme = _scheme(AuthSettings(**COGNITO), None)  # type: ignore[arg-type]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "us-west-1_abc" in scheme["description"]


def test_installed_once_and_an_apps_own_swagger_set_up_is_kept() -> None:
    settings = _settings(**COGNITO, cognito_domain="auth.example.com")
    app = _app()
    app.swagger_ui_init_oauth = {"clientId": "mine"}
    install_openapi(app, settings, settings.rbac(), None)
    wrapped = app.openapi
    install_openapi(app, settings, settings.rbac(), None)
    assert app.openapi is wrapped and getattr(wrapped, "tokenward", False)
    assert app.swagger_ui_init_oauth == {"clientId": "mine"}
    assert app.openapi() is app.openapi()  # built once, then the app's cached schema
