"""The FastAPI app of the end-to-end benchmark: the same small JSON from an open route and from a
route protected by ``tokenward.fastapi.require_current_user``, behind a real :class:`Auth`.

    TOKENWARD_AUTH_PROVIDER=custom TOKENWARD_AUTH_SECRET=... \\
        python -m uvicorn --factory benchmarks.fastapi_app:create_app --host 127.0.0.1 --port 8001

The settings come from the environment (``TOKENWARD_*``, see docs/fastapi.md); benchmarks/e2e.py
sets them for each provider. Routes, all answering :data:`BODY`:

``/open``
    no dependency;
``/dependency-only``
    ``Depends(bearer_scheme)`` alone (reads the Bearer header, verifies nothing): what FastAPI's
    dependency machinery costs, told apart from tokenward's;
``/protected``
    ``Depends(require_current_user)``: the header, the provider's verification, the CurrentUser;

plus the auth router (``POST /v1/auth/login`` gives the custom provider's benchmark token),
mounted after them. Starlette tries routes in order, each failed match costing about a
microsecond, so ``/protected`` comes right after ``/open``: the one extra match it pays counts
against it, and ``/dependency-only`` (two extra) is a bound, not a floor.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI

from tokenward.fastapi import Auth, CurrentUser, bearer_scheme, require_current_user

BODY = {"status": "ok", "service": "tokenward-bench"}


def create_app(auth: Auth | None = None) -> FastAPI:
    """The benchmark app around ``auth`` (from the environment when not given)."""
    auth = Auth.from_env() if auth is None else auth
    app = FastAPI(lifespan=auth.lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return BODY

    @app.get("/protected")
    async def protected_route(
        user: Annotated[CurrentUser, Depends(require_current_user)],
    ) -> dict[str, str]:
        return BODY

    @app.get("/dependency-only")
    async def dependency_only_route(
        token: Annotated[str | None, Depends(bearer_scheme)],
    ) -> dict[str, str]:
        return BODY

    app.include_router(auth.router)
    return app
