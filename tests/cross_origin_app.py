"""Another origin's page, for tests/test_fastapi_cookies_browser.py: served by a second uvicorn
on another loopback port, it tries to change state on the example app with the browser's
cookies (``window.attack(target)``). Nothing here is tokenward's."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>another site</title></head>
<body><h1>another site</h1>
<script>
"use strict";
// Each way a page of another origin may try a POST with the victim's cookies.
window.attack = async function (target) {
  const url = target + "/v1/projects/apollo/deploy";
  const result = {};
  // 1. A "simple" request: no preflight, so it is sent, cookies and all; the answer is opaque.
  try {
    const r = await fetch(url, {method: "POST", credentials: "include", mode: "no-cors"});
    result.simple = r.type;
  } catch (e) { result.simple = "error: " + e; }
  // 2. With the CSRF header: a preflight the app does not allow, so the POST is never sent.
  try {
    const r = await fetch(url, {
      method: "POST", credentials: "include", headers: {"X-Tokenward-CSRF": "1"},
    });
    result.with_header = r.status;
  } catch (e) { result.with_header = "blocked"; }
  return result;
};
</script></body></html>
"""

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)
