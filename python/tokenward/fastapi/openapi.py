"""The app's OpenAPI document as tokenward shows it: each protected route's 401/403/503 answers
(:func:`tokenward.fastapi.routes.document`) and the ``tokenward`` security scheme rewritten for
the provider: the custom provider's password flow at its login route, Cognito's hosted UI
(authorization code with PKCE, ``COGNITO_DOMAIN``), or a plain bearer scheme. Swagger UI's
Authorize is set up for the hosted UI too. ``Auth.install`` calls :func:`install_openapi`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tokenward.fastapi import routes
from tokenward.fastapi.router import PREFIX
from tokenward.rbac import Roles
from tokenward.services import TOKEN_KINDS
from tokenward.settings import AuthSettings

__all__ = ["COGNITO_SCOPES", "document", "init_swagger_oauth", "install_openapi"]

COGNITO_SCOPES = ("openid", "email", "profile")  # what the hosted UI's Authorize asks for


def required_scopes(schema: Mapping[str, Any]) -> list[str]:
    """Every scope an operation of ``schema`` requires under the ``tokenward`` scheme."""
    found: dict[str, None] = {}
    for item in schema.get("paths", {}).values():
        for operation in item.values() if isinstance(item, dict) else ():
            for requirement in operation.get("security", ()) if isinstance(operation, dict) else ():
                for scope in requirement.get("tokenward", ()):
                    found[scope] = None
    return list(found)


def install_openapi(app: Any, settings: AuthSettings, roles: Roles, login_path: str | None) -> None:
    """Wrap ``app.openapi`` (once) so the document it builds is :func:`document`-ed, and set
    up Swagger UI's Authorize for the hosted UI (:func:`init_swagger_oauth`)."""
    original: Callable[[], dict[str, Any]] | None = getattr(app, "openapi", None)
    if original is not None and not getattr(original, "tokenward", False):
        build = original

        def openapi() -> dict[str, Any]:
            if app.openapi_schema:
                return app.openapi_schema  # type: ignore[no-any-return]
            schema = build()
            document(schema, app, settings, roles, login_path)
            return schema

        openapi.tokenward = True  # type: ignore[attr-defined]
        app.openapi = openapi
    init_swagger_oauth(app, settings)


def init_swagger_oauth(app: Any, settings: AuthSettings) -> None:
    """``COGNITO_DOMAIN``: Swagger UI's Authorize runs the authorization-code flow with PKCE
    as the first app client (set only when the app has no ``swagger_ui_init_oauth``)."""
    if settings.auth_provider != "cognito" or not settings.cognito_domain:
        return
    if not hasattr(app, "swagger_ui_init_oauth") or app.swagger_ui_init_oauth is not None:
        return
    app.swagger_ui_init_oauth = {
        "clientId": settings.cognito_client_ids[0],
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": " ".join(COGNITO_SCOPES),
    }


def document(
    schema: dict[str, Any],
    app: Any,
    settings: AuthSettings,
    roles: Roles,
    login_path: str | None,
) -> None:
    """Put what the routes require into ``schema``, and the provider's flow into its
    ``tokenward`` security scheme (when the document has one)."""
    routes.document(schema, app)
    schemes = schema.get("components", {}).get("securitySchemes", {})
    if "tokenward" not in schemes:
        return
    var = settings.var
    if login_path is not None:
        debug = settings.is_development  # the debug login is development-only
        who = (
            f"an account's or the debug user's ({var('debug_email')}, {var('debug_password')})"
            if debug
            else "an account's"
        )
        schemes["tokenward"] = {
            "type": "oauth2",
            "description": (
                f"Bearer access token, or an API key (Bearer vk_…). Authorize signs in "
                f"through POST {login_path}: username and password are {who}."
            ),
            "flows": {
                "password": {
                    "tokenUrl": login_path,
                    "refreshUrl": PREFIX + "/refresh",
                    "scopes": routes.scope_table(
                        roles, settings.debug_user_scopes if debug else ()
                    ),
                }
            },
        }
    elif settings.auth_provider == "cognito" and settings.cognito_domain:
        hosted = f"https://{settings.cognito_domain.strip()}/oauth2"
        scopes = {s: s for s in COGNITO_SCOPES}
        scopes.update((s, s) for s in required_scopes(schema))
        schemes["tokenward"] = {
            "type": "oauth2",
            "description": (
                "Signs in at the Cognito hosted UI of the user pool "
                f"{settings.cognito_user_pool_id} ({var('cognito_domain')}): "
                "authorization code with PKCE. Or an API key (Bearer vk_…)."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{hosted}/authorize",
                    "tokenUrl": f"{hosted}/token",
                    "refreshUrl": f"{hosted}/token",
                    "scopes": scopes,
                }
            },
        }
    else:
        if settings.auth_provider == "oidc":
            issuers = " or ".join(c.issuer for c in settings.oidc_issuer_configs())
            whose = f"An access token of {issuers} ({var('oidc_issuer')}), "
        else:
            whose = (
                f"A Cognito {TOKEN_KINDS[settings.cognito_token_use]} of the user pool "
                f"{settings.cognito_user_pool_id} ({var('cognito_user_pool_id')}), "
            )
        schemes["tokenward"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                whose
                + "or an API key (Bearer vk_…)."
                + routes.scope_list(routes.scope_table(roles))
            ),
        }
