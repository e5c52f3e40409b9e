"""FastAPI dependencies for entitlements (:mod:`tokenward.access`) and for groups or scopes
combined with OR: ``require_entitlement``, ``access_context`` and ``any_of``; and
``build_access_set_router``, the signed-in user's access set for a client's UI::

    access = define_access(entities={...}, entitlements={...})
    auth = Auth.from_env(access=access)

    @app.delete("/v1/projects/{id}")
    async def delete(
        id: str,
        user: CurrentUser = Depends(
            require_entitlement(
                "project:delete", resource=lambda request: ("project", request.path_params["id"])
            )
        ),
    ): ...

The check reads the role assignments and the hierarchy from the Auth's store (which must be an
:class:`~tokenward.stores.AccessStore`: the SQLite and PostgreSQL stores are). An unauthenticated
request gets 401, a denied one 403 naming the entitlement and every reason, a resource the
request names badly 422, a store that fails 503.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, Security, status
from fastapi.exceptions import HTTPException

from tokenward.access import (
    AccessContext,
    AccessDefinition,
    PlanOf,
    compute_access_set,
    encode_access_set,
)
from tokenward.exceptions import (
    AuthorizationError,
    ConfigurationError,
    NotAuthenticatedError,
    TokenwardError,
)
from tokenward.fastapi import errors
from tokenward.fastapi.dependencies import find_auth, require_current_user
from tokenward.fastapi.models import CurrentUser
from tokenward.stores.base import AccessStore, Resource, _check_resource

__all__ = [
    "ResourceOf",
    "access_context",
    "any_of",
    "build_access_set_router",
    "require_entitlement",
]

_log = logging.getLogger("tokenward")

ResourceOf = Callable[[Request], "Resource | Awaitable[Resource]"]
"""Which resource a request acts on, e.g. ``lambda request: ("project",
request.path_params["id"])``; may be a coroutine function."""


def _context(
    request: Request, user: CurrentUser | None, access: AccessDefinition | None, plan_of: Any
) -> AccessContext:
    """The signed-in user's AccessContext on the app's Auth (its ``access`` unless ``access``
    is given, and its store): 401 without a user, 503 when either is missing."""
    if user is None:  # a public() route that was sent no credentials
        raise errors.to_http(NotAuthenticatedError("send credentials"))
    auth = find_auth(request.app)
    definition = access if access is not None else getattr(auth, "access", None)
    store = getattr(auth, "store", None)
    if not isinstance(definition, AccessDefinition) or not isinstance(store, AccessStore):
        _log.error(
            "tokenward: entitlement checks need an access definition (Auth(access=...)) and a "
            "store that keeps role assignments (SQLite or PostgreSQL)"
        )
        raise errors.unavailable("Authorization")
    return AccessContext(user.sub, definition, store, plan_of)


def require_entitlement(
    entitlement: str,
    *,
    resource: ResourceOf,
    access: AccessDefinition | None = None,
    plan_of: PlanOf | None = None,
) -> Callable[..., Awaitable[CurrentUser]]:
    """A dependency that lets through a signed-in user who holds ``entitlement`` on the
    resource ``resource(request)`` names (directly or inherited down the hierarchy, and with a
    plan ``plan_of`` approves when the entitlement needs one). Returns the user.

    ``access`` defaults to the app Auth's (``Auth(settings, access=...)``); when given here, the
    entitlement's name is checked at once (ConfigurationError at import, not at request time).
    """
    if not isinstance(entitlement, str) or not entitlement:
        raise ConfigurationError("require_entitlement needs an entitlement name")
    if not callable(resource):
        raise ConfigurationError("resource must be a function of the request")
    if access is not None:
        access.entitlement(entitlement)

    async def dependency(
        request: Request,
        user: Annotated[CurrentUser | None, Security(require_current_user)],
    ) -> CurrentUser:
        ctx = _context(request, user, access, plan_of)
        assert user is not None  # _context refused None
        target = resource(request)
        if inspect.isawaitable(target):
            target = await target
        try:
            checked = _check_resource(target)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc)) from None
        try:
            result = await ctx.check(entitlement, checked)
        except TokenwardError as exc:
            raise errors.to_http(exc) from None
        if not result.allowed:
            raise errors.to_http(
                AuthorizationError(
                    "not entitled",
                    entitlement=entitlement,
                    user_id=user.sub,
                    reasons=result.reasons,
                )
            )
        return user

    name = "require_entitlement_" + entitlement.replace(":", "_").replace("-", "_")
    dependency.__name__ = dependency.__qualname__ = name
    dependency.tokenward_entitlement = entitlement  # type: ignore[attr-defined]
    return dependency


async def access_context(
    request: Request,
    user: Annotated[CurrentUser | None, Security(require_current_user)],
) -> AccessContext:
    """``Depends(access_context)``: the signed-in user's :class:`~tokenward.access.AccessContext`
    on the app's Auth, for routes that check several entitlements themselves (``can_all`` for a
    list page, say). 401 without credentials."""
    return _context(request, user, None, None)


def any_of(
    *, groups: tuple[str, ...] | list[str] = (), scopes: tuple[str, ...] | list[str] = ()
) -> Callable[..., Awaitable[CurrentUser]]:
    """A dependency that lets through a user in any of ``groups`` OR holding any of ``scopes``
    (its effective scopes: the token's and its roles'), 403 otherwise::

        @app.get("/v1/reports", dependencies=[Depends(any_of(groups=["root"],
                                                             scopes=["reports:read"]))])

    (``require_groups`` beside ``Security(..., scopes=[...])`` is the AND of the two.)"""
    wanted_groups = tuple(dict.fromkeys(groups))
    wanted_scopes = tuple(dict.fromkeys(scopes))
    if not wanted_groups and not wanted_scopes:
        raise ConfigurationError("any_of needs at least one group or scope")
    if not all(isinstance(n, str) and n for n in (*wanted_groups, *wanted_scopes)):
        raise ConfigurationError("any_of takes group and scope names (non-empty strings)")

    async def dependency(
        user: Annotated[CurrentUser | None, Security(require_current_user)],
    ) -> CurrentUser:
        if user is None:
            raise errors.to_http(NotAuthenticatedError("send credentials"))
        if user.in_any_group(*wanted_groups) or any(s in user.scopes for s in wanted_scopes):
            return user
        raise errors.to_http(
            AuthorizationError(
                "forbidden",
                subject=user.sub,
                groups=wanted_groups,
                missing_scopes=wanted_scopes,
            )
        )

    dependency.__name__ = dependency.__qualname__ = "any_of"
    # Not ``tokenward_groups``: route_report would list them as groups every caller needs.
    dependency.tokenward_any_groups = wanted_groups  # type: ignore[attr-defined]
    dependency.tokenward_any_scopes = wanted_scopes  # type: ignore[attr-defined]
    return dependency


def build_access_set_router(
    *,
    prefix: str = "/v1/access",
    plan_of_user: Callable[[CurrentUser], str | Awaitable[str | None] | None] | None = None,
) -> APIRouter:
    """A router with ``GET {prefix}/set``: the signed-in user's access set
    (:func:`~tokenward.access.compute_access_set`), encoded sparse
    (:func:`~tokenward.access.encode_access_set`), with its hash as the ``ETag``. A client that
    sends the hash back in ``If-None-Match`` gets 304 while its set is current, so it can poll
    cheaply and tell when its copy went stale. ``plan_of_user`` gives the user's plan (for
    plan-gated entitlements). The set is advisory: routes check again
    (:func:`require_entitlement`)."""
    router = APIRouter(prefix=prefix, tags=["access"])

    @router.get("/set", summary="The signed-in user's access set (advisory, for the UI)")
    async def access_set(
        request: Request,
        response: Response,
        user: Annotated[CurrentUser | None, Security(require_current_user)],
    ) -> Any:
        ctx = _context(request, user, None, None)
        plan = None
        if plan_of_user is not None and user is not None:
            found = plan_of_user(user)
            plan = await found if inspect.isawaitable(found) else found
        try:
            computed = await compute_access_set(ctx.user_id, ctx.access, ctx.store, plan=plan)
        except TokenwardError as exc:
            raise errors.to_http(exc) from None
        etag = f'"{computed.hash}"'
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = "private, no-cache"
        return encode_access_set(computed)

    return router
