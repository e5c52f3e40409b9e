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
mounted after them. Starlette tries routes in order, and each failed match costs FastAPI
0.165 about 11,000 instructions (1.5-2 µs), so a route's position counts: ``/protected`` comes
right after ``/open`` (one failed match, counted against it in ``/protected`` over ``/open``).
``create_app(dependency_first=True)`` (``BENCH_DEPENDENCY_FIRST=1``) swaps ``/protected`` and
``/dependency-only``, so that the two can be compared at the same position, as
``benchmarks.e2e.in_process`` does.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI

from tokenward.fastapi import Auth, CurrentUser, bearer_scheme, require_current_user

BODY = {"status": "ok", "service": "tokenward-bench"}


def create_app(auth: Auth | None = None, *, dependency_first: bool | None = None) -> FastAPI:
    """The benchmark app around ``auth`` (from the environment when not given); routes in the
    order ``/open``, ``/protected``, ``/dependency-only``, or with the last two swapped when
    ``dependency_first`` (default: the ``BENCH_DEPENDENCY_FIRST`` variable)."""
    auth = Auth.from_env() if auth is None else auth
    if dependency_first is None:
        dependency_first = os.environ.get("BENCH_DEPENDENCY_FIRST", "") == "1"
    app = FastAPI(lifespan=auth.lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    async def open_route() -> dict[str, str]:
        return BODY

    async def protected_route(
        user: Annotated[CurrentUser, Depends(require_current_user)],
    ) -> dict[str, str]:
        return BODY

    async def dependency_only_route(
        token: Annotated[str | None, Depends(bearer_scheme)],
    ) -> dict[str, str]:
        return BODY

    routes = [("/protected", protected_route), ("/dependency-only", dependency_only_route)]
    for path, endpoint in [("/open", open_route), *(routes[::-1] if dependency_first else routes)]:
        app.add_api_route(path, endpoint, methods=["GET"])
    app.include_router(auth.router)
    return app
