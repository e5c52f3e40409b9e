"""WebSocket routes behind each tokenward dependency, for tests/test_fastapi_websockets.py.

``add_websocket_routes(app)`` adds them to a test app (in process); ``app`` is a whole app built
from the environment (``TOKENWARD_*``) when uvicorn asks for it (``uvicorn _websocket_app:app``
with this directory as its app dir), so importing the module builds nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security, WebSocket

from tokenward.fastapi import (
    Auth,
    CurrentUser,
    authenticate,
    optional_current_user,
    require_current_user,
    require_groups,
)

PATHS = {
    "user": "/ws",
    "root": "/ws/root",
    "auditor": "/ws/auditor",
    "reports": "/ws/reports",
    "admin_reports": "/ws/admin-reports",
    "any": "/ws/any",
    "optional": "/ws/optional",
}


async def _greet(websocket: WebSocket, user: CurrentUser | None) -> None:
    """Accept, say who the dependency found, then wait for the client's "bye"."""
    await websocket.accept()
    await websocket.send_json({"sub": None if user is None else user.sub})
    await websocket.receive_text()
    await websocket.close()


def add_websocket_routes(app: FastAPI) -> None:
    @app.websocket(PATHS["user"])
    async def user(
        websocket: WebSocket, who: Annotated[CurrentUser, Depends(require_current_user)]
    ) -> None:
        await _greet(websocket, who)

    @app.websocket(PATHS["root"])
    async def root(
        websocket: WebSocket, who: Annotated[CurrentUser, Depends(require_groups("root"))]
    ) -> None:
        await _greet(websocket, who)

    @app.websocket(PATHS["auditor"], dependencies=[Depends(require_groups("auditor"))])
    async def auditor(websocket: WebSocket) -> None:
        await _greet(websocket, None)

    @app.websocket(PATHS["reports"])
    async def reports(
        websocket: WebSocket,
        who: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> None:
        await _greet(websocket, who)

    @app.websocket(PATHS["admin_reports"])
    async def admin_reports(
        websocket: WebSocket,
        who: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:write"])],
    ) -> None:
        await _greet(websocket, who)

    @app.websocket(PATHS["any"])
    async def any_of(
        websocket: WebSocket,
        who: Annotated[CurrentUser, Depends(authenticate("jwt", "api_key"))],
    ) -> None:
        await _greet(websocket, who)

    @app.websocket(PATHS["optional"])
    async def optional(
        websocket: WebSocket, who: Annotated[CurrentUser | None, Depends(optional_current_user)]
    ) -> None:
        await _greet(websocket, who)


def create_app() -> FastAPI:
    auth = Auth.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    add_websocket_routes(app)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # uvicorn _websocket_app:app
        return create_app()
    raise AttributeError(name)
