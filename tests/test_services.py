"""The service graph (tokenward.services): Auth and the CLI take their services from it, each
service gets its collaborators when it is built, and the same settings give the same secrets'
derivations on both sides."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tokenward as tw
from tokenward.fastapi import Auth, AuthSettings
from tokenward.providers import CognitoProvider, CustomProvider
from tokenward.services import Services, build_services

SECRET = "services-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
CLI = Path(__file__).resolve().parents[1] / "python" / "tokenward" / "cli.py"
AUTH = Path(__file__).resolve().parents[1] / "python" / "tokenward" / "fastapi" / "auth.py"


def _settings(tmp_path: Path, **values: object) -> AuthSettings:
    values.setdefault("auth_secret", SECRET)
    values.setdefault("store_url", f"sqlite:///{tmp_path / 'graph.sqlite3'}")
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values)


def test_auth_takes_every_service_from_the_graph(tmp_path: Path) -> None:
    auth = Auth(_settings(tmp_path, revoke_access_tokens=True))
    graph = auth.services
    assert isinstance(graph, Services)
    assert auth.store is graph.store
    assert auth.tokens is graph.tokens is not None
    assert auth.provider is graph.provider
    assert auth.limiter is graph.limiter
    assert auth.api_keys is graph.api_keys is not None
    assert auth.strategies is graph.strategies
    assert auth.lifecycle is graph.lifecycle
    assert auth.session_check is graph.session_check is not None
    assert auth.key_ring is graph.key_ring


def test_each_service_gets_its_collaborators_at_construction(tmp_path: Path) -> None:
    """Nothing is patched in after it is built: the token service's reidentify is the graph's
    (an account's session re-reads its user, the debug user's goes to the debug user), handed
    over at construction; its sessions end through the one life cycle the
    session check listens to; every service works on the one store."""
    graph = build_services(_settings(tmp_path, revoke_access_tokens=True))
    provider = graph.provider
    assert isinstance(provider, CustomProvider)
    assert graph.tokens is not None and graph.debug_user is not None
    assert provider.user is graph.debug_user
    assert graph.tokens.reidentify == graph._reidentify
    assert graph.tokens.lifecycle is graph.lifecycle
    assert graph.session_check is not None and graph.session_check.lifecycle is graph.lifecycle
    assert graph.lifecycle is not None and graph.lifecycle.listened
    assert graph.tokens.store is graph.store and graph.limiter.counters is graph.store
    assert graph.api_keys is not None and graph.api_keys.store is graph.store
    # auth.py assigns no attribute of a service it did not make itself
    tree = ast.parse(AUTH.read_text(encoding="utf-8"))
    patched = [
        ast.unparse(target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Attribute)  # x.y.z = ...
    ]
    assert patched == []


def test_the_cognito_graph(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        auth_provider="cognito",
        environment="production",
        cognito_region="us-west-1",
        cognito_user_pool_id="us-west-1_abc",
        cognito_app_client_id="client",
    )
    graph = build_services(settings)
    assert isinstance(graph.provider, CognitoProvider)
    assert graph.tokens is None and graph.lifecycle is None and graph.signing is None
    assert graph.cognito is not None and graph.provider.verifier is graph.cognito
    assert graph.api_keys is not None  # AUTH_SECRET is set
    assert graph.login_path is None


def test_the_cli_and_the_app_derive_the_same_keys(tmp_path: Path) -> None:
    """The same settings give the same API-key hash, limiter counter name and signing keys in
    the app and in a graph built as the CLI builds it (Services(settings, warn=False))."""
    settings = _settings(tmp_path, token_algorithm="ES256", signing_key_file=_ring(tmp_path))
    app = Auth(settings).services
    cli = Services(settings, warn=False)
    assert app.api_keys is not None and cli.api_keys is not None
    key = "vk_" + "A" * 43
    assert app.api_keys.hasher.hash(key) == cli.api_keys.hasher.hash(key)
    assert app.limiter._user_key(" Ada@Example.com ") == cli.limiter._user_key("ada@example.com")
    assert app.key_ring is not None and cli.key_ring is not None
    assert app.key_ring.public_jwks() == cli.key_ring.public_jwks()
    assert app.signing is not None and cli.signing is not None
    who = tw.Principal(subject="u-1", credential_type="access_token")
    token = cli.signing.access.issue(who, iat=int(time.time()), lifetime=60, jti=None, sid=None)
    assert app.tokens is not None
    assert app.tokens.verify_access(token)["sub"] == "u-1"


def _ring(tmp_path: Path) -> str:
    key = tw.JWK.generate("ES256")
    path = tmp_path / "signing-keys.json"
    path.write_text(json.dumps({"keys": [json.loads(key.to_json(private=True))]}))
    return str(path)


@pytest.mark.parametrize(
    "command", ["_run_debug_token", "_run_api_key", "_run_limits_clear", "_signing_keys"]
)
def test_the_cli_commands_build_through_the_graph(command: str) -> None:
    """Each CLI command that needs a service takes it from Services, and none builds one of
    the graph's services itself."""
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    function = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == command
    )
    names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
    assert "Services" in names
    built_elsewhere = {
        "ApiKeyService",
        "ApiKeyHasher",
        "LoginLimiter",
        "limiter_key",
        "DebugTokens",
        "TokenService",
        "signing_keys",
        "open_store",
    }
    assert not names & built_elsewhere


def test_an_api_key_the_cli_makes_is_one_the_app_accepts(tmp_path: Path) -> None:
    """End to end: ``tokenward api-key create`` against the app's store, then the app."""
    from _fastapi_support import TestClient, make_app

    store_url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TOKENWARD_")}
    env.update({"TOKENWARD_AUTH_SECRET": SECRET, "TOKENWARD_STORE_URL": store_url})
    result = subprocess.run(
        [sys.executable, "-m", "tokenward.cli", "api-key", "create", "--json", "--owner", "u-42",
         "--name", "ci", "--scope", "reports:read"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    app, _ = make_app(auth_secret=SECRET, store_url=store_url, debug_scopes="reports:read")
    with TestClient(app) as client:
        response = client.get("/reports", headers={"Authorization": f"Bearer {made['key']}"})
    assert response.status_code == 200, response.text
