"""tokenward for FastAPI: settings, the auth router, and the dependencies routes use.

::

    from fastapi import Depends, FastAPI, Security
    from tokenward.fastapi import Auth, CurrentUser, require_current_user, require_groups

    auth = Auth.from_env()                 # reads TOKENWARD_AUTH_PROVIDER, TOKENWARD_AUTH_SECRET...
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)        # POST /v1/auth/login, /refresh, /logout; GET /v1/auth/me

    @app.get("/v1/projects")
    def projects(user: CurrentUser = Depends(require_current_user)): ...

Needs the ``fastapi`` extra: ``pip install 'tokenward[fastapi]'``.
"""

from __future__ import annotations

try:  # the fastapi extra: say how to get it rather than which of its modules is missing
    import fastapi as _fastapi  # noqa: F401
    import pydantic_settings as _pydantic_settings  # noqa: F401
except ImportError as exc:
    raise ImportError(
        f"tokenward.fastapi needs the fastapi extra ({exc.name or 'fastapi'} is missing): "
        "pip install 'tokenward[fastapi]'",
        name=exc.name,
    ) from exc

from tokenward.exceptions import AuthorizationError, ConfigurationError
from tokenward.fastapi.access import (
    access_context,
    any_of,
    build_access_set_router,
    require_entitlement,
)
from tokenward.fastapi.auth import Auth
from tokenward.fastapi.dependencies import (
    authenticate,
    basic_scheme,
    bearer_scheme,
    find_auth,
    optional_current_user,
    public,
    require_current_user,
    require_fresh_mfa,
    require_groups,
)
from tokenward.fastapi.docs import install_docs
from tokenward.fastapi.models import CurrentUser, LoginRequest, RefreshRequest, TokenResponse
from tokenward.fastapi.routes import RouteInfo, route_report
from tokenward.principal import Principal
from tokenward.providers import AuthProvider, CognitoProvider, CustomProvider
from tokenward.settings import AuthSettings
from tokenward.strategies import Credentials, Strategy, VerifierStrategy

__all__ = [
    "Auth",
    "AuthProvider",
    "AuthSettings",
    "AuthorizationError",
    "CognitoProvider",
    "ConfigurationError",
    "Credentials",
    "CurrentUser",
    "CustomProvider",
    "LoginRequest",
    "Principal",
    "RefreshRequest",
    "RouteInfo",
    "Strategy",
    "TokenResponse",
    "VerifierStrategy",
    "access_context",
    "any_of",
    "authenticate",
    "basic_scheme",
    "bearer_scheme",
    "build_access_set_router",
    "find_auth",
    "install_docs",
    "optional_current_user",
    "public",
    "require_current_user",
    "require_entitlement",
    "require_fresh_mfa",
    "require_groups",
    "route_report",
]
