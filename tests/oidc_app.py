"""The app tests/test_oidc_mock_provider.py runs as a uvicorn process under AUTH_PROVIDER=oidc.

Everything comes from the environment (``TOKENWARD_AUTH_PROVIDER=oidc``,
``TOKENWARD_OIDC_ISSUER``, ``TOKENWARD_OIDC_AUDIENCE``...).

    python -m uvicorn oidc_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from tokenward.fastapi import Auth, CurrentUser, public, require_current_user, require_groups

auth = Auth.from_env()
app = FastAPI(lifespan=auth.lifespan)


@app.get("/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/whoami")
async def whoami(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
    return {"sub": user.sub, "groups": list(user.groups), "email": user.email}


@app.get("/admin", dependencies=[Depends(require_groups("admin"))])
async def admin() -> dict[str, bool]:
    return {"ok": True}
