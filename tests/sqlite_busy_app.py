"""An app on a SQLite store with a short timeout, for tests/test_sqlite_busy.py.

``SQLITE_PATH`` names the file and ``SQLITE_TIMEOUT`` the store's timeout (seconds); everything
else comes from the ``TOKENWARD_*`` environment as usual.

    python -m uvicorn sqlite_busy_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI

from tokenward.fastapi import Auth, public
from tokenward.stores.sqlite import SQLiteStore

store = SQLiteStore(os.environ["SQLITE_PATH"], timeout=float(os.environ["SQLITE_TIMEOUT"]))
auth = Auth.from_env(store=store)
app = FastAPI(lifespan=auth.lifespan)
app.include_router(auth.router)


@app.get("/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok"}
