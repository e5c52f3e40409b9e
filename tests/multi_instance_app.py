"""The app tests/test_multi_instance.py runs twice, as two uvicorn processes on one PostgreSQL.

Everything comes from the environment (``TOKENWARD_STORE_URL=postgresql://…``, a shared
``TOKENWARD_AUTH_SECRET``, ``TOKENWARD_API_KEY_CACHE_TTL``...); ``INSTANCE`` names the process, so
a test can tell which one answered.

    python -m uvicorn multi_instance_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security

from tokenward.fastapi import Auth, CurrentUser, public, require_current_user

auth = Auth.from_env()
app = FastAPI(lifespan=auth.lifespan)
app.include_router(auth.router)
app.include_router(auth.api_keys_router)

INSTANCE = os.environ.get("INSTANCE", "?")


@app.get("/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok", "instance": INSTANCE}


@app.get("/whoami")
async def whoami(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
    return {"instance": INSTANCE, "sub": user.sub, "credential_type": user.credential_type}


@app.get("/reports")
async def reports(
    user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
) -> dict[str, Any]:
    return {"instance": INSTANCE, "scopes": user.scopes}
