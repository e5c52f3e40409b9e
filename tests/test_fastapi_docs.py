"""install_docs: Swagger UI and ReDoc with every asset served by the app (no CDN), in process.

The real browser run of the same pages is tests/test_fastapi_docs_browser.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI

from _fastapi_support import TestClient
from tokenward import ConfigurationError
from tokenward.fastapi.docs import install_docs

URL_ATTR = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


def app_with_docs(**kwargs: Any) -> FastAPI:
    app = FastAPI(title="docs test", docs_url=None, redoc_url=None)

    @app.get("/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    install_docs(app, **kwargs)
    return app


def references(html: str) -> list[str]:
    return URL_ATTR.findall(html)


def test_swagger_page_loads_only_from_the_app() -> None:
    client = TestClient(app_with_docs())
    page = client.get("/docs")
    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text
    urls = references(page.text)
    assert "/docs-assets/swagger-ui-bundle.js" in urls
    assert "/docs-assets/swagger-ui.css" in urls
    assert "/docs-assets/favicon.png" in urls
    assert "/openapi.json" in urls
    for url in urls:
        assert url.startswith("/"), f"{url} is not served by the app"
        assert not url.startswith("//"), url
    assert "cdn" not in page.text.lower()
    assert "oauth2RedirectUrl" in page.text
    assert "/docs/oauth2-redirect" in page.text


def test_every_asset_is_served() -> None:
    client = TestClient(app_with_docs())
    for page_url in ("/docs", "/redoc"):
        for url in references(client.get(page_url).text):
            response = client.get(url)
            assert response.status_code == 200, url
            assert len(response.content) > 1000 or url == "/openapi.json", url
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert 'PACKAGE_VERSION:"5.' in js.text  # Swagger UI 5 reads OpenAPI 3.1
    assert client.get("/docs-assets/favicon.png").headers["content-type"] == "image/png"
    assert client.get("/docs-assets/nothing.js").status_code == 404


def test_redoc_page_without_google_fonts() -> None:
    client = TestClient(app_with_docs())
    page = client.get("/redoc")
    assert page.status_code == 200
    assert "<redoc" in page.text
    assert "fonts.googleapis" not in page.text
    assert all(url.startswith("/") for url in references(page.text))
    assert "/docs-assets/redoc.standalone.js" in references(page.text)


def test_pages_allow_images_from_the_app_only() -> None:
    """ReDoc's sidebar asks a CDN for its logo whatever its options; the policy stops that."""
    client = TestClient(app_with_docs())
    for url in ("/docs", "/redoc"):
        assert client.get(url).headers["content-security-policy"] == "img-src 'self' data:"


def test_oauth2_redirect_page() -> None:
    client = TestClient(app_with_docs())
    page = client.get("/docs/oauth2-redirect")
    assert page.status_code == 200
    assert "oauth2" in page.text
    assert "swaggerUIRedirectOauth2" in page.text


def test_pages_stay_out_of_the_schema() -> None:
    client = TestClient(app_with_docs())
    assert set(client.get("/openapi.json").json()["paths"]) == {"/v1/ping"}


def test_custom_paths_and_root_path() -> None:
    app = app_with_docs(docs_url="/api/docs", redoc_url=None, assets_url="/static/ui")
    client = TestClient(app, root_path="/prefix")
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/prefix/static/ui/swagger-ui-bundle.js" in references(page.text)
    assert "/prefix/openapi.json" in references(page.text)
    assert "/prefix/docs/oauth2-redirect" in page.text
    plain = TestClient(app)
    assert plain.get("/redoc").status_code == 404
    assert plain.get("/static/ui/swagger-ui.css").status_code == 200


def test_swagger_parameters_and_init_oauth_pass_through() -> None:
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        swagger_ui_parameters={"deepLinking": False},
        swagger_ui_init_oauth={"clientId": "docs-client"},
        swagger_ui_oauth2_redirect_url="/auth/callback",
    )
    install_docs(app, swagger_ui_parameters={"persistAuthorization": True})
    client = TestClient(app)
    text = client.get("/docs").text
    assert '"deepLinking": false' in text
    assert '"persistAuthorization": true' in text
    assert "docs-client" in text
    assert "/auth/callback" in text
    assert client.get("/auth/callback").status_code == 200


def test_refuses_fastapis_cdn_pages() -> None:
    app = FastAPI()  # docs_url="/docs" and redoc_url="/redoc": FastAPI's CDN pages
    with pytest.raises(ConfigurationError, match=r"FastAPI\(docs_url=None, redoc_url=None\)"):
        install_docs(app)
    assert [r for r in app.routes if getattr(r, "path", "") == "/docs-assets"] == []


def test_refuses_only_the_cdn_page_that_collides() -> None:
    app = FastAPI(docs_url="/docs", redoc_url=None)
    with pytest.raises(ConfigurationError, match="/docs"):
        install_docs(app)
    install_docs(app, docs_url=None)  # ReDoc alone does not collide
    assert TestClient(app).get("/redoc").status_code == 200


def test_refuses_a_second_install_and_taken_paths() -> None:
    app = app_with_docs()
    with pytest.raises(ConfigurationError, match="already serves"):
        install_docs(app)
    other = FastAPI(docs_url=None, redoc_url=None)

    @other.get("/redoc")
    def mine() -> str:
        return "mine"

    with pytest.raises(ConfigurationError, match="/redoc"):
        install_docs(other)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"docs_url": None, "redoc_url": None},
        {"docs_url": "docs"},
        {"assets_url": "https://cdn.example/x"},
        {"docs_url": "/same", "redoc_url": "/same"},
    ],
)
def test_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        install_docs(FastAPI(docs_url=None, redoc_url=None), **kwargs)


def test_needs_an_openapi_schema() -> None:
    with pytest.raises(ConfigurationError, match="openapi_url"):
        install_docs(FastAPI(docs_url=None, redoc_url=None, openapi_url=None))
