"""What each route of an app requires, read from its dependency tree once at start-up.

:func:`route_report` answers "is there an unauthenticated endpoint by accident?" (the CLI's
``tokenward routes`` prints it); :func:`document` puts what the routes require into the app's
OpenAPI document (401/403/503 answers, optional auth, the provider's flow and scopes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

from tokenward.fastapi.dependencies import (
    OptionalCurrentUser,
    RequireCurrentUser,
    is_public,
)

__all__ = ["RouteInfo", "iter_routes", "route_report"]

Protection = Literal["protected", "optional", "public", "public (marked)"]


@dataclasses.dataclass(frozen=True, slots=True)
class RouteInfo:
    """One route: its methods and path, and what it requires."""

    methods: tuple[str, ...]
    path: str
    protection: Protection
    strategies: tuple[str, ...] = ()  # "default" for the app's AUTH_STRATEGIES
    scopes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _walk(dependant: Any, depth: int = 0) -> Iterator[tuple[Any, Any]]:
    """(call, dependant) for every dependency below ``dependant``."""
    if depth > 32:
        return
    for sub in getattr(dependant, "dependencies", ()) or ():
        yield sub.call, sub
        yield from _walk(sub, depth + 1)


def _scopes(dependant: Any) -> tuple[str, ...]:
    scopes = list(getattr(dependant, "own_oauth_scopes", None) or ())
    scopes += list(getattr(dependant, "parent_oauth_scopes", None) or ())
    return tuple(dict.fromkeys(scopes))


def _describe(route: Any) -> RouteInfo:
    required = optional = marked = False
    strategies: list[str] = []
    scopes: list[str] = []
    groups: list[str] = []
    for call, dependant in _walk(getattr(route, "dependant", None)):
        spec = getattr(call, "tokenward_spec", None)
        if isinstance(call, RequireCurrentUser):
            required = True
            strategies.append("default")
            scopes += _scopes(dependant)
        elif isinstance(call, OptionalCurrentUser):
            optional = True
            strategies.append("default")
        elif spec is not None:
            required = True
            strategies += [s if isinstance(s, str) else s.name for s in spec[0]]
            scopes += _scopes(dependant)
        elif is_public(call):
            marked = True
        wanted = getattr(call, "tokenward_groups", None)
        if wanted:
            groups += wanted
    if marked:
        protection: Protection = "public (marked)"
    elif required:
        protection = "protected"
    elif optional:
        protection = "optional"
    else:
        protection = "public"
    return RouteInfo(
        methods=tuple(sorted(getattr(route, "methods", None) or ())),
        path=str(getattr(route, "path", "")),
        protection=protection,
        strategies=tuple(dict.fromkeys(strategies)),
        scopes=tuple(dict.fromkeys(scopes)),
        groups=tuple(dict.fromkeys(groups)),
    )


def _flat_routes(app: Any) -> Iterator[Any]:
    """The app's routes, those of included routers too: FastAPI releases that keep an included
    router as one entry of ``app.routes`` list its routes (prefixed, with the router's
    dependencies) through ``fastapi.routing.iter_route_contexts``."""
    routes = getattr(app, "routes", ())
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # older FastAPI: include_router copies the routes into app.routes
        yield from routes
        return
    yield from iter_route_contexts(routes)


def iter_routes(app: Any) -> Iterator[tuple[Any, RouteInfo]]:
    """Every API route of ``app`` (its ``routes``, mounted routers included) with its info."""
    for route in _flat_routes(app):
        if getattr(route, "dependant", None) is None:
            continue  # Starlette routes (docs, static files): no dependencies to read
        yield route, _describe(route)


def route_report(app: Any) -> list[RouteInfo]:
    """What every API route of ``app`` requires, in the app's order."""
    return [info for _, info in iter_routes(app)]


_ERRORS = {
    "401": "Not authenticated, or the credentials are not valid",
    "403": "Authenticated, but a required group or scope is missing",
    "503": "The verification keys or the store are unavailable; retry after Retry-After",
}


def document(schema: dict[str, Any], app: Any) -> None:
    """Add to ``schema`` (the app's OpenAPI document) the answers every protected route can
    give, and mark optional-auth routes as such (an empty security requirement)."""
    paths = schema.get("paths") or {}
    for route, info in iter_routes(app):
        if info.protection not in ("protected", "optional"):
            continue
        path_item = paths.get(getattr(route, "path_format", info.path))
        if not isinstance(path_item, dict):
            continue
        for method in info.methods:
            operation = path_item.get(method.lower())
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            codes = ("401", "403", "503") if info.protection == "protected" else ("401", "503")
            for code in codes:
                responses.setdefault(code, {"description": _ERRORS[code]})
            if info.protection == "optional":
                security = operation.setdefault("security", [])
                if {} not in security:
                    security.append({})
