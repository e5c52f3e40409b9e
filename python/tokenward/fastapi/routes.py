"""What each route of an app requires, read from its dependency tree once at start-up.

:func:`route_report` answers "is there an unauthenticated endpoint by accident?" (the CLI's
``tokenward routes`` prints it); :func:`document` puts what the routes require into the app's
OpenAPI document (401/403/503 answers, optional auth, the provider's flow and scopes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from typing import Any, Literal

from fastapi import routing as _fastapi_routing

from tokenward.exceptions import ConfigurationError
from tokenward.fastapi.dependencies import (
    OptionalCurrentUser,
    RequireCurrentUser,
    is_public,
)
from tokenward.rbac import Roles

__all__ = [
    "RouteInfo",
    "check_routes",
    "document",
    "iter_routes",
    "route_report",
    "scope_list",
    "scope_table",
    "undeclared_scopes",
]

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
        """A dict for ``json.dumps``: lists, not tuples."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


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


def _all_routes(app: Any) -> Iterator[Any]:
    """The app's routes with those of included routers. FastAPI 0.160 and later keep an
    included router as one entry of ``app.routes`` and resolve its routes (with the prefix and
    the router-level dependencies of the inclusion) through ``iter_route_contexts``; earlier
    versions copied every route into ``app.routes``."""
    routes = list(getattr(app, "routes", ()))
    flatten = getattr(_fastapi_routing, "iter_route_contexts", None)
    if flatten is None:
        yield from routes
    else:
        yield from flatten(routes)


def iter_routes(app: Any) -> Iterator[tuple[Any, RouteInfo]]:
    """Every API route of ``app`` (its ``routes``, included routers' too) with its info."""
    for route in _all_routes(app):
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


def undeclared_scopes(app: Any, roles: Roles) -> str | None:
    """The first route that asks for a scope ``roles`` does not declare, described for a
    start-up error; None when every route is fine (always, when no scopes are declared)."""
    for _, info in iter_routes(app):
        missing = roles.undeclared(info.scopes)
        if missing:
            what = "scope" if len(missing) == 1 else "scopes"
            return (
                f"the route {' '.join(info.methods)} {info.path} asks for the {what} "
                f"{', '.join(missing)}, which the app does not declare"
            )
    return None


def check_routes(
    app: Any,
    available: Container[str],
    missing: Callable[[str], str],
    roles: Roles,
    scopes_var: str,
) -> None:
    """Fail start-up (ConfigurationError) for a route of ``app`` naming a built-in strategy not
    in ``available`` (``missing(name)`` says why), or asking for a scope ``roles`` does not
    declare (when ``SCOPES``, named ``scopes_var``, declares them)."""
    for _, info in iter_routes(app):
        for name in info.strategies:
            if name not in available and name in ("jwt", "api_key", "basic", "gateway"):
                raise ConfigurationError(f"{info.path}: {missing(name)}")
    problem = undeclared_scopes(app, roles)
    if problem:
        raise ConfigurationError(f"{problem}; declare it in {scopes_var}")


def scope_table(roles: Roles, extra: Iterable[str] = ()) -> dict[str, str]:
    """The scopes to show in OpenAPI: the declared ones with their descriptions (a scope
    without one is described by its name), then ``extra`` (the debug user's) not among them."""
    table = {scope: text or scope for scope, text in roles.declared_scopes.items()}
    for scope in extra:
        table.setdefault(scope, scope)
    return table


def scope_list(table: Mapping[str, str]) -> str:
    """``table`` as a Markdown list for a security scheme's description ("" when empty)."""
    if not table:
        return ""
    lines = [f"- `{scope}`: {text}" for scope, text in table.items()]
    return "\n\nScopes:\n\n" + "\n".join(lines)


def document(schema: dict[str, Any], app: Any) -> None:
    """Add to ``schema`` (the app's OpenAPI document) the answers every protected route can
    give, and mark optional-auth routes as such (an empty security requirement). A route made
    public with ``public()`` under a protecting router is optional auth: credentials that are
    sent are still checked."""
    paths = schema.get("paths") or {}
    for route, info in iter_routes(app):
        if info.protection not in ("protected", "optional", "public (marked)"):
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
            if info.protection != "protected" and (info.scopes or info.groups):
                codes = ("401", "403", "503")
            for code in codes:
                responses.setdefault(code, {"description": _ERRORS[code]})
            if info.protection != "protected" and operation.get("security"):
                security = operation.setdefault("security", [])
                if {} not in security:
                    security.append({})
