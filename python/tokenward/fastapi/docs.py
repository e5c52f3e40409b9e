"""Swagger UI and ReDoc served by the app itself, so ``/docs`` works with no network.

FastAPI's own ``/docs`` and ``/redoc`` pages load their JavaScript, CSS and favicon from a public
CDN (and ReDoc its fonts from Google): offline, or behind a strict firewall, they are blank.
:func:`install_docs` serves the same pages with every asset taken from the ``fastapi-offline``
package (Swagger UI 5, which reads OpenAPI 3.1, and ReDoc 2), installed with the ``fastapi``
extra::

    app = FastAPI(docs_url=None, redoc_url=None, lifespan=auth.lifespan)
    install_docs(app)          # /docs, /docs/oauth2-redirect, /redoc and /docs-assets/*

Swagger UI's Authorize button keeps working: the OAuth2 redirect page is served too, at
``app.swagger_ui_oauth2_redirect_url``, and ``app.swagger_ui_init_oauth`` and
``app.swagger_ui_parameters`` are passed through as FastAPI passes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tokenward.exceptions import ConfigurationError
from tokenward.fastapi.dependencies import public

# The documentation pages are public on purpose (route reports say so).
_PUBLIC: dict[str, Any] = {"dependencies": [Depends(public())]}

__all__ = ["install_docs"]

_ASSETS_PACKAGE = "fastapi_offline"
# What the pages load; each must be in the package, or install_docs refuses to run.
_SWAGGER_JS = "swagger-ui-bundle.js"
_SWAGGER_CSS = "swagger-ui.css"
_REDOC_JS = "redoc.standalone.js"
_FAVICON = "favicon.png"
_ASSETS = (_SWAGGER_JS, _SWAGGER_CSS, _REDOC_JS, _FAVICON)
_DEFAULT_OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# Images only from the app (and data: URLs): ReDoc's sidebar always asks a CDN for its logo, and
# Swagger UI can ask a public validator for a badge. The browser then makes no such request.
_IMAGE_POLICY = {"Content-Security-Policy": "img-src 'self' data:"}


def _assets_dir() -> Path:
    """The directory of Swagger UI's and ReDoc's files inside the ``fastapi-offline`` package."""
    try:
        root = resources.files(_ASSETS_PACKAGE) / "static"
    except ModuleNotFoundError:
        raise ConfigurationError(
            "install_docs needs the fastapi-offline package (Swagger UI and ReDoc files): "
            "pip install 'tokenward[fastapi]'"
        ) from None
    directory = Path(str(root))
    missing = [name for name in _ASSETS if not (directory / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"the installed fastapi-offline package lacks {', '.join(missing)}: "
            "reinstall it (pip install --force-reinstall 'fastapi-offline>=1.7.7')"
        )
    return directory


def _path(name: str, value: str) -> str:
    if not value.startswith("/") or value != value.strip() or "?" in value or "#" in value:
        raise ConfigurationError(
            f"install_docs: {name} must be a path starting with '/': {value!r}"
        )
    return value.rstrip("/") or "/"


def _taken(app: FastAPI, paths: Iterable[str]) -> list[str]:
    """Those of ``paths`` that a route or mount of ``app`` already answers."""
    wanted = set(paths)
    found = []
    for route in app.router.routes:
        path = getattr(route, "path", None)
        if isinstance(path, str) and path in wanted:
            found.append(path)
    return found


def install_docs(
    app: FastAPI,
    *,
    docs_url: str | None = "/docs",
    redoc_url: str | None = "/redoc",
    assets_url: str = "/docs-assets",
    oauth2_redirect_url: str | None = None,
    title: str | None = None,
    swagger_ui_parameters: dict[str, Any] | None = None,
) -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url`` with no request leaving the app.

    ``app`` must be built without FastAPI's own pages, ``FastAPI(docs_url=None,
    redoc_url=None)``; a route already at one of the paths (FastAPI's CDN pages, or an earlier
    ``install_docs``) is a :class:`~tokenward.ConfigurationError` that says so. ``None`` for
    ``docs_url`` or ``redoc_url`` leaves that page out. The JavaScript, CSS and favicon are
    served under ``assets_url``; Swagger UI's OAuth2 redirect page at ``oauth2_redirect_url``
    (default: ``app.swagger_ui_oauth2_redirect_url``, FastAPI's ``/docs/oauth2-redirect``).
    ``title`` defaults to the app's; ``swagger_ui_parameters`` is merged over
    ``app.swagger_ui_parameters``. Paths are served below the ASGI ``root_path``, as FastAPI's
    own pages are.
    """
    if docs_url is None and redoc_url is None:
        raise ConfigurationError("install_docs: docs_url and redoc_url are both None")
    if app.openapi_url is None:
        raise ConfigurationError(
            "install_docs: the app has no OpenAPI schema (openapi_url=None) for the pages to show"
        )
    assets = _assets_dir()
    openapi_url = app.openapi_url
    assets_path = _path("assets_url", assets_url)
    docs_path = None if docs_url is None else _path("docs_url", docs_url)
    redoc_path = None if redoc_url is None else _path("redoc_url", redoc_url)
    redirect_path: str | None = None
    if docs_path is not None:
        redirect = oauth2_redirect_url or app.swagger_ui_oauth2_redirect_url
        redirect_path = _path("oauth2_redirect_url", redirect or _DEFAULT_OAUTH2_REDIRECT)

    ours = [p for p in (docs_path, redoc_path, redirect_path, assets_path) if p is not None]
    if len(set(ours)) != len(ours):
        raise ConfigurationError(f"install_docs: two pages at one path: {ours}")
    taken = _taken(app, ours)
    if taken:
        fastapi_pages = {p for p in (app.docs_url, app.redoc_url) if p is not None} & set(taken)
        hint = (
            " (FastAPI's own pages, which load from a CDN: build the app with "
            "FastAPI(docs_url=None, redoc_url=None))"
            if fastapi_pages
            else ""
        )
        raise ConfigurationError(
            f"install_docs: the app already serves {', '.join(sorted(taken))}{hint}"
        )

    page_title = title or app.title
    parameters = {**(app.swagger_ui_parameters or {}), **(swagger_ui_parameters or {})}

    def asset(request: Request, name: str) -> str:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return f"{root}{assets_path}/{name}"

    def schema(request: Request) -> str:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return f"{root}{openapi_url}"

    app.mount(assets_path, StaticFiles(directory=assets), name="tokenward_docs_assets")

    if docs_path is not None and redirect_path is not None:
        redirect_target = redirect_path

        async def swagger_ui(request: Request) -> HTMLResponse:
            root = str(request.scope.get("root_path", "")).rstrip("/")
            page = get_swagger_ui_html(
                openapi_url=schema(request),
                title=f"{page_title} - Swagger UI",
                swagger_js_url=asset(request, _SWAGGER_JS),
                swagger_css_url=asset(request, _SWAGGER_CSS),
                swagger_favicon_url=asset(request, _FAVICON),
                oauth2_redirect_url=f"{root}{redirect_target}",
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=parameters or None,
            )
            page.headers.update(_IMAGE_POLICY)
            return page

        async def oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

        app.add_api_route(
            docs_path, swagger_ui, methods=["GET"], include_in_schema=False, **_PUBLIC
        )
        app.add_api_route(
            redirect_path, oauth2_redirect, methods=["GET"], include_in_schema=False, **_PUBLIC
        )

    if redoc_path is not None:

        async def redoc(request: Request) -> HTMLResponse:
            page = get_redoc_html(
                openapi_url=schema(request),
                title=f"{page_title} - ReDoc",
                redoc_js_url=asset(request, _REDOC_JS),
                redoc_favicon_url=asset(request, _FAVICON),
                with_google_fonts=False,
            )
            page.headers.update(_IMAGE_POLICY)
            return page

        app.add_api_route(redoc_path, redoc, methods=["GET"], include_in_schema=False, **_PUBLIC)
