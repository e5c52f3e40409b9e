"""The app tests/test_fastapi_accounts_uvicorn.py runs under uvicorn (once, or twice on one
PostgreSQL). Settings come from the environment; account mail is appended, one JSON line per
message, to the file ``TOKENWARD_TEST_MAILBOX`` names (every instance to the same file), so the
test reads the tokens as a person reads their mail.

    python -m uvicorn accounts_app:app --app-dir tests --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import json
import os
import threading

from fastapi import Depends, FastAPI

from tokenward.fastapi import Auth, public

MAILBOX = os.environ["TOKENWARD_TEST_MAILBOX"]
INSTANCE = os.environ.get("INSTANCE", "?")
_lock = threading.Lock()


def on_send(kind: str, email: str, token: str) -> None:
    line = json.dumps({"kind": kind, "email": email, "token": token, "instance": INSTANCE})
    with _lock, open(MAILBOX, "a", encoding="utf-8") as box:
        box.write(line + "\n")


auth = Auth.from_env(on_send=on_send)
app = FastAPI(lifespan=auth.lifespan)
app.include_router(auth.router)


@app.get("/health", dependencies=[Depends(public())])
async def health() -> dict[str, str]:
    return {"status": "ok", "instance": INSTANCE}
