"""The ``tokenward`` console script, run as a user runs it: a subprocess of the installed entry
point, every command and every exit code (0 ok, 1 token rejected, 2 usage or configuration)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tokenward as tw
from jwks_server import JWKSServer
from tokenward._core import DebugTokens

SCRIPT = Path(sys.executable).with_name("tokenward")
SECRET = "cli-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
ISSUER = "https://issuer.example"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: the package is not installed (make install)"
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("TOKENWARD_", "CLI_"))}
    base.update(env or {})
    return subprocess.run(
        [str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
        check=False,
    )


def run_json(*args: str, code: int = 0, **kwargs: Any) -> dict[str, Any]:
    result = run(*args, "--json", **kwargs)
    assert result.returncode == code, (result.stdout, result.stderr)
    body: dict[str, Any] = json.loads(result.stdout)  # nothing else on stdout
    return body


def token(key: tw.JWK, **claims: Any) -> str:
    payload = {"sub": "u1", "iss": ISSUER, "exp": int(time.time()) + 300, **claims}
    return tw.encode(payload, key)


# --- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["keygen"],
        ["inspect"],
        ["verify"],
        ["debug-token"],
        ["settings"],
        ["settings", "check"],
        ["routes"],
        ["api-key"],
        ["api-key", "create"],
        ["api-key", "list"],
        ["api-key", "revoke"],
        ["jwks"],
        ["keys"],
        ["keys", "rotate"],
    ],
)
def test_help_on_every_command(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: tokenward")


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("no-such-command").returncode == 2
    assert run("keygen", "none").returncode == 2
    assert run("verify", "a.b.c").returncode == 2  # no key source
    assert run("verify", "a.b.c", "--key", "k", "--secret-env", "V").returncode == 2
    assert "invalid choice" in run("keygen", "HS1").stderr


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"tokenward {tw.__version__}"


def test_module_imports_without_fastapi_or_pydantic() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        blocked = ('fastapi', 'pydantic', 'pydantic_settings', 'starlette')\n"
        "        if name.split('.')[0] in blocked:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from tokenward.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    key = tw.JWK.generate("ES256")
    result = subprocess.run(
        [sys.executable, "-c", code, "inspect", token(key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "UNVERIFIED" in result.stdout
    check = subprocess.run(
        [sys.executable, "-c", code, "settings", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 2
    assert "pip install 'tokenward[fastapi]'" in check.stderr


# --- keygen ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", tw.ALGORITHMS)
def test_keygen_every_algorithm(algorithm: str) -> None:
    result = run("keygen", algorithm)
    assert result.returncode == 0, result.stderr
    key = tw.JWK.from_json(result.stdout)
    assert key.is_private
    assert key.algorithm == algorithm
    assert key.kid == key.thumbprint()


@pytest.mark.parametrize("algorithm", ["RS256", "PS384", "ES256", "ES512", "EdDSA"])
def test_keygen_public_and_pem(algorithm: str) -> None:
    public = tw.JWK.from_json(run("keygen", algorithm, "--public").stdout)
    assert not public.is_private
    private_pem = run("keygen", algorithm, "--pem")
    assert private_pem.returncode == 0
    assert private_pem.stdout.startswith("-----BEGIN PRIVATE KEY-----")
    key = tw.JWK.from_pem(private_pem.stdout, algorithm)
    assert key.is_private
    public_pem = run("keygen", algorithm, "--pem", "--public").stdout
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert not tw.JWK.from_pem(public_pem).is_private
    # the PEM key signs tokens that its JWK form verifies
    signed = tw.encode({"sub": "x"}, key)
    assert tw.decode(signed, key.public(), algorithms=[algorithm])["sub"] == "x"


def test_keygen_json_and_rsa_bits() -> None:
    body = run_json("keygen", "RS256", "--rsa-bits", "3072", "--public")
    assert body["alg"] == "RS256" and body["private"] is False
    assert len(tw.JWK.from_json(body["jwk"]).to_dict()["n"]) == 512  # 3072 bits in base64url
    pem = run_json("keygen", "ES384", "--pem")
    assert pem["pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert pem["kid"] == tw.JWK.from_pem(pem["pem"], "ES384").thumbprint()


@pytest.mark.parametrize(
    "args",
    [
        ["HS256", "--public"],
        ["HS512", "--pem"],
        ["ES256", "--rsa-bits", "4096"],
        ["RS256", "--rsa-bits", "1024"],
    ],
)
def test_keygen_refusals_exit_2(args: list[str]) -> None:
    result = run("keygen", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("tokenward: error:")


# --- inspect -----------------------------------------------------------------------------------


def test_inspect_banner_and_relative_times() -> None:
    key = tw.JWK.generate("ES256")
    now = int(time.time())
    result = run("inspect", token(key, exp=now - 330, iat=now - 3600, nbf=now + 7260))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "UNVERIFIED" in lines[0]
    assert '"alg": "ES256"' in result.stdout
    assert '"sub": "u1"' in result.stdout
    assert "expired 5 minutes ago" in result.stdout
    assert "(1 hour ago)" in result.stdout
    assert "valid in 2 hours" in result.stdout
    assert f"exp: {time.strftime('%Y-%m-%d', time.gmtime(now - 330))}" in result.stdout


def test_inspect_json_is_one_object_marked_unverified() -> None:
    key = tw.JWK.generate("HS256")
    now = int(time.time())
    body = run_json("inspect", token(key, exp=now + 3 * 86400 + 60))
    assert body["unverified"] is True
    assert body["header"]["alg"] == "HS256"
    assert body["claims"]["iss"] == ISSUER
    assert body["times"]["exp"]["relative"] == "expires in 3 days"
    assert body["times"]["exp"]["date"].endswith("+00:00")


def test_inspect_reads_stdin_and_does_not_need_a_valid_signature() -> None:
    key = tw.JWK.generate("ES256")
    forged = token(key)[:-4] + "AAAA"
    result = run("inspect", "-", stdin=forged + "\n")
    assert result.returncode == 0
    assert '"sub": "u1"' in result.stdout


@pytest.mark.parametrize("bad", ["not-a-token", "a.b.c", "e30.e30"])
def test_inspect_malformed_exits_1(bad: str) -> None:
    result = run("inspect", bad)
    assert result.returncode == 1
    assert "MalformedTokenError" in result.stderr
    body = run_json("inspect", bad, code=1)
    assert body["valid"] is False and body["error"] == "MalformedTokenError"


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    """stdout is a pipe whose reader is already gone: the first write fails (EPIPE)."""
    key = tw.JWK.generate("ES256")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(SCRIPT), "inspect", token(key)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert "Traceback" not in result.stderr


def test_inspect_empty_token_exits_2() -> None:
    assert run("inspect", "-", stdin="  \n").returncode == 2


# --- verify ------------------------------------------------------------------------------------


@pytest.fixture
def es_key(tmp_path: Path) -> Iterator[tuple[tw.JWK, Path]]:
    key = tw.JWK.generate("ES256")
    path = tmp_path / "key.json"
    path.write_text(key.public().to_json())
    yield key, path


def test_verify_with_a_jwk_file(es_key: tuple[tw.JWK, Path]) -> None:
    key, path = es_key
    result = run("verify", token(key), "--key", str(path), "--issuer", ISSUER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid:")
    body = run_json("verify", token(key), "--key", str(path))
    assert body["valid"] is True and body["claims"]["sub"] == "u1"


def test_verify_rejections_exit_1(es_key: tuple[tw.JWK, Path]) -> None:
    key, path = es_key
    other = tw.JWK.generate("ES256")
    cases = {
        "ExpiredTokenError": [token(key, exp=int(time.time()) - 10)],
        "InvalidIssuerError": [token(key), "--issuer", "https://other.example"],
        "InvalidAudienceError": [token(key, aud="api")],  # an aud, and no audience configured
        "InvalidSignatureError": [token(other)],
        "MissingClaimError": [token(key), "--require", "jti"],
    }
    for error, args in cases.items():
        result = run("verify", *args, "--key", str(path))
        assert result.returncode == 1, (error, result.stderr)
        assert f"rejected: {error}" in result.stderr
        assert result.stdout == ""
    body = run_json(
        "verify", token(key, aud="api"), "--key", str(path), "--audience", "web", code=1
    )
    assert body == {"valid": False, "error": "InvalidAudienceError", "message": body["message"]}
    tampered = token(key)[:-4] + "AAAA"
    assert run("verify", tampered, "--key", str(path)).returncode == 1
    leeway = run(
        "verify", token(key, exp=int(time.time()) - 5), "--key", str(path), "--leeway", "60"
    )
    assert leeway.returncode == 0


def test_verify_with_pem_and_jwks_files(tmp_path: Path) -> None:
    key = tw.JWK.generate("RS256")
    pem = tmp_path / "key.pem"
    pem.write_text(key.public().to_pem())
    # a PEM key names no algorithm: --algorithm is needed
    assert run("verify", token(key), "--key", str(pem)).returncode == 2
    assert run("verify", token(key), "--key", str(pem), "--algorithm", "RS256").returncode == 0
    assert run("verify", token(key), "--key", str(pem), "--algorithm", "PS256").returncode == 1
    jwks = tmp_path / "jwks.json"
    jwks.write_text(tw.JWKSet([key.public(), tw.JWK.generate("ES256").public()]).to_json())
    assert run("verify", token(key), "--key", str(jwks)).returncode == 0
    unknown = run("verify", token(tw.JWK.generate("RS256")), "--key", str(jwks))
    assert unknown.returncode == 1
    assert "rejected: KeyNotFoundError" in unknown.stderr


def test_verify_with_a_secret_from_the_environment() -> None:
    key = tw.JWK.from_secret(SECRET)
    signed = tw.encode({"sub": "u1", "exp": int(time.time()) + 60}, key, algorithm="HS256")
    env = {"CLI_SECRET": SECRET}
    assert run("verify", signed, "--secret-env", "CLI_SECRET", env=env).returncode == 0
    wrong = {"CLI_SECRET": SECRET[::-1]}
    assert run("verify", signed, "--secret-env", "CLI_SECRET", env=wrong).returncode == 1
    missing = run("verify", signed, "--secret-env", "CLI_SECRET")
    assert missing.returncode == 2
    assert "CLI_SECRET is not set" in missing.stderr
    short = run("verify", signed, "--secret-env", "CLI_SECRET", env={"CLI_SECRET": "short"})
    assert short.returncode == 2


def test_verify_with_a_jwks_url() -> None:
    server = JWKSServer().start()
    try:
        key = tw.JWK.generate("ES256")
        server.keys = [key.public()]
        result = run("verify", token(key), "--jwks", server.url, "--issuer", ISSUER)
        assert result.returncode == 0, result.stderr
        assert run("verify", token(tw.JWK.generate("ES256")), "--jwks", server.url).returncode == 1
        server.default = "500"
        down = run("verify", token(key), "--jwks", server.url)
        assert down.returncode == 2
        assert down.stderr.startswith("tokenward: error:")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[1, 2]", b"\xff\xfe", b"-----BEGIN PUBLIC KEY-----\nxx\n"]
)
def test_verify_unusable_key_files_exit_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    result = run("verify", "a.b.c", "--key", str(path), "--algorithm", "ES256")
    assert result.returncode == 2
    assert result.stderr.startswith("tokenward: error:")


def test_verify_missing_key_file_exits_2(tmp_path: Path) -> None:
    result = run("verify", "a.b.c", "--key", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "cannot read the key file" in result.stderr
    body = run_json("verify", "a.b.c", "--key", str(tmp_path / "nope.json"), code=2)
    assert body["ok"] is False and "cannot read" in body["message"]


# --- debug-token -------------------------------------------------------------------------------


def test_debug_token_is_what_the_custom_provider_accepts() -> None:
    env = {"TOKENWARD_AUTH_SECRET": SECRET, "TOKENWARD_DEBUG_SCOPES": "reports:read"}
    result = run("debug-token", env=env)
    assert result.returncode == 0, result.stderr
    minted = result.stdout.strip()
    claims = DebugTokens(SECRET, issuer="tokenward").verify_access(minted)
    assert claims["email"] == "debug@example.com"
    assert claims["cognito:groups"] == ["root", "operator"]
    assert claims["scope"] == "reports:read"
    assert claims["exp"] - claims["iat"] == 900
    assert tw.unverified_header(minted)["typ"] == "at+jwt"


def test_debug_token_prefix_and_overrides() -> None:
    env = {"VEGA_AUTH_SECRET": SECRET, "VEGA_TOKEN_ISSUER": "vega"}
    body = run_json(
        "debug-token", "--prefix", "VEGA_", "--sub", "u-7", "--email", "a@b.example",
        "--group", "ops", "--scope", "x:y", "--lifetime", "60", env=env,
    )  # fmt: skip
    assert body["expires_in"] == 60 and body["token_type"] == "bearer"
    claims = DebugTokens(SECRET, issuer="vega").verify_access(body["access_token"])
    assert (claims["sub"], claims["email"], claims["cognito:groups"]) == (
        "u-7",
        "a@b.example",
        ["ops"],
    )
    assert claims["exp"] - claims["iat"] == 60


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TOKENWARD_AUTH_SECRET is not set"),
        ({"TOKENWARD_AUTH_SECRET": "short"}, "at least 32"),
        (
            {"TOKENWARD_AUTH_SECRET": SECRET, "TOKENWARD_ACCESS_TOKEN_LIFETIME": "soon"},
            "ACCESS_TOKEN_LIFETIME",
        ),
        (
            {
                "TOKENWARD_AUTH_PROVIDER": "cognito",
                "TOKENWARD_COGNITO_REGION": "us-west-1",
                "TOKENWARD_COGNITO_USER_POOL_ID": "us-west-1_abc",
                "TOKENWARD_COGNITO_APP_CLIENT_ID": "client",
            },
            "only the custom provider",
        ),
    ],
)
def test_debug_token_refusals_exit_2(env: dict[str, str], message: str) -> None:
    result = run("debug-token", env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


# --- settings check ----------------------------------------------------------------------------


def test_settings_check_ok() -> None:
    env = {"TOKENWARD_AUTH_SECRET": SECRET, "TOKENWARD_STORE_URL": "postgresql://u:hunter2@db/x"}
    result = run("settings", "check", env=env)
    assert result.returncode == 0, result.stderr
    assert "TOKENWARD_* settings: ok" in result.stdout
    assert "TOKENWARD_AUTH_SECRET = set (" in result.stdout
    assert SECRET not in result.stdout and "hunter2" not in result.stdout
    body = run_json("settings", "check", "--prefix", "VEGA_", env={"VEGA_ENVIRONMENT": "dev"})
    assert body["ok"] is True and body["prefix"] == "VEGA_"
    assert body["settings"]["auth_secret"].startswith("not set")


def test_settings_check_names_each_problem() -> None:
    env = {
        "TOKENWARD_ACCESS_TOKEN_LIFETIME": "soon",
        "TOKENWARD_TOKEN_CACHE_SIZE": "-1",
        "TOKENWARD_AUTH_PROVIDER": "ldap",
    }
    result = run("settings", "check", env=env)
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    for name in ("ACCESS_TOKEN_LIFETIME", "TOKEN_CACHE_SIZE", "AUTH_PROVIDER"):
        assert f"  - TOKENWARD_{name}:" in result.stderr
    body = run_json("settings", "check", env=env, code=2)
    assert body["ok"] is False and len(body["problems"]) == 3


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (
            {"TOKENWARD_ENVIRONMENT": "production", "TOKENWARD_AUTH_SECRET": SECRET},
            "TOKENWARD_AUTH_PROVIDER",
        ),
        ({"TOKENWARD_ENVIRONMENT": "staging"}, "TOKENWARD_ENVIRONMENT"),
        (
            {
                "TOKENWARD_ENVIRONMENT": "staging",
                "TOKENWARD_ALLOW_CUSTOM_AUTH_IN_PRODUCTION": "true",
            },
            "TOKENWARD_AUTH_SECRET",
        ),
        ({"TOKENWARD_AUTH_PROVIDER": "cognito"}, "TOKENWARD_COGNITO_REGION"),
    ],
)
def test_settings_check_refuses_what_auth_refuses(env: dict[str, str], variable: str) -> None:
    result = run("settings", "check", env=env)
    assert result.returncode == 2
    assert "1 problem" in result.stderr
    assert variable in result.stderr


# --- routes ----------------------------------------------------------------------------------

ROUTES_APP = """
from fastapi import Depends, FastAPI, Security
from tokenward.fastapi import Auth, AuthSettings, public, require_current_user, require_groups

auth = Auth(AuthSettings.from_env(prefix="CLI_ROUTES_", auth_secret="x" * 40))
app = FastAPI()
app.include_router(auth.router)

@app.get("/health", dependencies=[Depends(public())])
def health() -> dict: return {}

@app.get("/forgotten")
def forgotten() -> dict: return {}

@app.get("/reports")
def reports(user=Security(require_current_user, scopes=["reports:read"])) -> dict: return {}

@app.delete("/projects/{pid}", dependencies=[Depends(require_groups("root"))])
def delete(pid: str) -> dict: return {}
"""


def test_routes_lists_what_each_route_requires(tmp_path: Path) -> None:
    (tmp_path / "routes_app.py").write_text(ROUTES_APP)
    body = run_json("routes", "routes_app:app", "--app-dir", str(tmp_path))
    by_path = {r["path"]: r for r in body["routes"]}
    assert by_path["/health"]["protection"] == "public (marked)"
    assert by_path["/forgotten"]["protection"] == "public"
    assert by_path["/reports"]["protection"] == "protected"
    assert by_path["/reports"]["scopes"] == ["reports:read"]
    assert by_path["/projects/{pid}"]["groups"] == ["root"]
    assert by_path["/v1/auth/me"]["protection"] == "protected"
    assert "/forgotten" in body["public_without_marker"]
    assert "/health" not in body["public_without_marker"]
    text = run("routes", "routes_app:app", "--app-dir", str(tmp_path))
    assert text.returncode == 0
    assert "/forgotten" in text.stdout and "without public()" in text.stdout
    strict = run("routes", "routes_app:app", "--app-dir", str(tmp_path), "--fail-on-public")
    assert strict.returncode == 1


def test_routes_of_a_missing_app_is_a_usage_error(tmp_path: Path) -> None:
    assert run("routes", "nowhere:app", "--app-dir", str(tmp_path)).returncode == 2
    assert run("routes", "no-colon").returncode == 2


# --- api-key ---------------------------------------------------------------------------------


def test_api_key_create_list_revoke_against_the_store(tmp_path: Path) -> None:
    env = {
        "CLI_AUTH_SECRET": SECRET,
        "CLI_STORE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
    }
    made = run_json(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u-42", "--name", "deploy",
        "--scope", "reports:read", env=env,
    )  # fmt: skip
    assert made["key"].startswith("vk_") and made["scopes"] == ["reports:read"]
    listed = run_json("api-key", "list", "--prefix", "CLI_", "--owner", "u-42", env=env)
    assert [k["id"] for k in listed["keys"]] == [made["id"]]
    assert made["key"] not in json.dumps(listed)  # never the key again
    assert made["key"] not in (tmp_path / "keys.db").read_bytes().decode("latin-1")
    revoked = run_json("api-key", "revoke", "--prefix", "CLI_", made["id"], env=env)
    assert revoked == {"revoked": True, "id": made["id"]}
    again = run("api-key", "revoke", "--prefix", "CLI_", made["id"], env=env)
    assert again.returncode == 2 and "no live API key" in again.stderr


def test_api_key_needs_the_secret(tmp_path: Path) -> None:
    env = {"CLI_STORE_URL": f"sqlite:///{tmp_path / 'keys.db'}"}
    result = run("api-key", "list", "--prefix", "CLI_", "--owner", "u", env=env)
    assert result.returncode == 2 and "CLI_AUTH_SECRET" in result.stderr


def test_api_key_create_under_another_secret_is_refused(tmp_path: Path) -> None:
    """Issue 20 item 25: ``api-key create`` with an AUTH_SECRET other than the one the store's
    keys were made with exits 1 with a clear message and prints no key (the server would never
    accept it); the store's keys are untouched."""
    store = f"sqlite:///{tmp_path / 'keys.db'}"
    env = {"CLI_AUTH_SECRET": SECRET, "CLI_STORE_URL": store}
    wrong = {
        "CLI_AUTH_SECRET": "another-cli-secret-0123456789-abcdefghijkl",
        "CLI_STORE_URL": store,
    }
    made = run_json(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u1", "--name", "a", env=env
    )
    refused = run(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u1", "--name", "b", env=wrong
    )
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert refused.stdout == ""
    assert "CLI_AUTH_SECRET is not the one the API keys in this store were made with" in (
        refused.stderr
    )
    as_json = run_json(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u1", "--name", "b", code=1, env=wrong
    )
    assert as_json["ok"] is False and as_json["error"] == "wrong_secret"
    listed = run_json("api-key", "list", "--prefix", "CLI_", env=env)
    assert [k["id"] for k in listed["keys"]] == [made["id"]]
    again = run_json(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u1", "--name", "c", env=env
    )
    assert again["key"].startswith("vk_")


def test_api_key_list_of_every_owner_with_iso_dates_and_groups(tmp_path: Path) -> None:
    """Issue 20 item 25: ``api-key list`` without --owner lists every owner's keys (an
    administrator's view), dates are ISO 8601 as the HTTP API prints them, ``--group`` makes a
    key in that group, and --group/--scope have help texts."""
    env = {"CLI_AUTH_SECRET": SECRET, "CLI_STORE_URL": f"sqlite:///{tmp_path / 'keys.db'}"}
    first = run_json(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u1", "--name", "ops",
        "--group", "root", "--scope", "reports:read", "--expires-in", "3600", env=env,
    )  # fmt: skip
    second = run_json(
        "api-key", "create", "--prefix", "CLI_", "--owner", "u2", "--name", "ci", env=env
    )
    assert (first["groups"], second["groups"]) == (["root"], [])
    for made in (first, second):
        created = _dt.datetime.fromisoformat(made["created_at"])
        assert made["created_at"].endswith("Z") and created.tzinfo is not None
        assert abs(created.timestamp() - time.time()) < 600
    expires = _dt.datetime.fromisoformat(first["expires_at"])
    assert (
        3599 <= (expires - _dt.datetime.fromisoformat(first["created_at"])).total_seconds() <= 3601
    )
    assert second["expires_at"] is None and second["last_used_at"] is None
    listed = run_json("api-key", "list", "--prefix", "CLI_", env=env)["keys"]
    assert {k["id"]: (k["owner"], k["groups"]) for k in listed} == {
        first["id"]: ("u1", ["root"]),
        second["id"]: ("u2", []),
    }
    assert all(k["created_at"].endswith("Z") for k in listed)
    text = run("api-key", "list", "--prefix", "CLI_", env=env)
    assert text.returncode == 0
    assert first["created_at"] in text.stdout and "owner u2" in text.stdout
    assert "groups: root" in text.stdout
    assert [
        k["id"]
        for k in run_json("api-key", "list", "--prefix", "CLI_", "--owner", "u2", env=env)["keys"]
    ] == [second["id"]]
    usage = run("api-key", "create", "--help").stdout
    group_help = usage[usage.index("--group GROUP") :]
    assert "a group the key is in" in group_help
    assert "a scope the key holds" in usage[usage.index("--scope SCOPE") :]


# --- jwks and keys rotate ----------------------------------------------------------------------


def test_jwks_and_keys_rotate_on_a_signing_key_file(tmp_path: Path) -> None:
    key = tw.JWK.generate("ES256")
    ring_file = tmp_path / "signing-keys.json"
    ring_file.write_text(json.dumps({"keys": [json.loads(key.to_json(private=True))]}))
    env = {
        "CLI_AUTH_SECRET": SECRET,
        "CLI_TOKEN_ALGORITHM": "ES256",
        "CLI_SIGNING_KEY_FILE": str(ring_file),
    }
    published = run_json("jwks", "--prefix", "CLI_", env=env)
    assert [k["kid"] for k in published["keys"]] == [key.kid]
    assert all(
        "d" not in k and k["use"] == "sig" and k["alg"] == "ES256" for k in published["keys"]
    )
    rotated = run_json("keys", "rotate", "--prefix", "CLI_", env=env)
    assert rotated["current"] != key.kid and key.kid in rotated["kids"]
    after = run_json("jwks", "--prefix", "CLI_", env=env)
    assert {k["kid"] for k in after["keys"]} == {key.kid, rotated["current"]}  # old one still out


def test_jwks_of_an_hmac_issuer_is_a_usage_error() -> None:
    result = run("jwks", "--prefix", "CLI_", env={"CLI_AUTH_SECRET": SECRET})
    assert result.returncode == 2 and "HS256" in result.stderr


# --- python -m tokenward.cli is the tokenward command ------------------------------------------


def _every_command() -> list[list[str]]:
    """Every command and subcommand of the parser, as argument lists (the parser itself too)."""
    import argparse

    from tokenward.cli import build_parser

    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        found.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    return found


@pytest.mark.parametrize("command", _every_command(), ids=lambda c: " ".join(c) or "tokenward")
def test_python_m_tokenward_cli_is_the_same_parser(command: list[str]) -> None:
    """Issue 20 item 18: ``python -m tokenward.cli`` had no api-key, routes, jwks or keys; it is
    the ``tokenward`` entry point's parser, every subcommand's --help the same both ways."""
    entry = run(*command, "--help")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TOKENWARD_")}
    module = subprocess.run(
        [sys.executable, "-m", "tokenward.cli", *command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert entry.returncode == 0, entry.stderr
    assert module.returncode == 0, module.stderr
    assert module.stdout == entry.stdout
    assert {"api-key", "routes", "jwks", "keys"} <= {c[0] for c in _every_command() if c}


@pytest.mark.parametrize(
    "store_url",
    [
        "postgresql://u:hunter2@db/x",
        "postgresql://u:hun@ter2@db/x",
        "postgresql://u@db/x?sslmode=require&password=hunter2",
        "postgres://db/x?PASSWORD=hunter2#frag",
        "postgresql://db/x?pass%77ord=hunter2",
        "postgresql://db/x?sslpassword=hunter2",
        "host=db dbname=x password=hunter2",
        "host=db password = 'hunter2 with \\' blanks' dbname=x",
        "host=db password='hunter2",
    ],
)
def test_settings_check_masks_the_store_password(store_url: str) -> None:
    """Issue 20 item 6: ``settings check`` printed the PostgreSQL password given as a query
    parameter or in libpq keyword form; it is masked in every form the store accepts."""
    env = {"TOKENWARD_AUTH_SECRET": SECRET, "TOKENWARD_STORE_URL": store_url}
    result = run("settings", "check", env=env)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "***" in result.stdout
    body = run_json("settings", "check", env=env)
    assert "hunter2" not in body["settings"]["store_url"]


# --- debug-token builds its keys as the app does -------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS256", "RS256", "PS256", "ES256", "EdDSA"])
def test_debug_token_is_accepted_under_every_token_algorithm(
    tmp_path: Path, algorithm: str
) -> None:
    """Issue 20 item 17: ``debug-token`` ignored TOKEN_ALGORITHM (under ES256 it minted an HS256
    token the app refuses). It builds its keys as Auth does, so the app accepts its token."""
    from _fastapi_support import TestClient, make_app

    values = {"auth_secret": SECRET, "token_algorithm": algorithm, "debug_scopes": "reports:read"}
    env = {"TOKENWARD_AUTH_SECRET": SECRET, "TOKENWARD_TOKEN_ALGORITHM": algorithm}
    if algorithm != "HS256":
        key = tw.JWK.generate(algorithm)
        key_file = tmp_path / "signing-keys.json"
        key_file.write_text(json.dumps({"keys": [json.loads(key.to_json(private=True))]}))
        env["TOKENWARD_SIGNING_KEY_FILE"] = str(key_file)
        values["signing_key_file"] = str(key_file)
    body = run_json("debug-token", "--scope", "reports:read", env=env)
    minted = body["access_token"]
    assert tw.unverified_header(minted)["alg"] == algorithm
    app, _ = make_app(**values)
    with TestClient(app) as client:
        response = client.get("/reports", headers={"Authorization": f"Bearer {minted}"})
    assert response.status_code == 200, response.text
    assert response.json()["scopes"] == ["reports:read"]


def test_settings_check_exits_1_on_a_misspelled_variable() -> None:
    """Issue 20 item 22: MYAPP_ENVIROMENT=production was silently ignored (the debug login stayed
    on) and ``settings check`` said ok. It names the variable and the closest setting, exit 1."""
    env = {"MYAPP_ENVIROMENT": "production", "MYAPP_AUTH_SECRET": SECRET}
    result = run("settings", "check", "--prefix", "MYAPP_", env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "MYAPP_ENVIROMENT is not a setting (did you mean MYAPP_ENVIRONMENT?)" in result.stderr
    body = run_json("settings", "check", "--prefix", "MYAPP_", env=env, code=1)
    assert body["ok"] is False
    assert body["unknown"] == [
        "MYAPP_ENVIROMENT is not a setting (did you mean MYAPP_ENVIRONMENT?)"
    ]
    # A refused configuration lists them with its own problem (exit 2).
    env["MYAPP_AUTH_SECRET"] = "short"
    result = run("settings", "check", "--prefix", "MYAPP_", env=env)
    assert result.returncode == 2 and "2 problems" in result.stderr
    assert "did you mean MYAPP_ENVIRONMENT?" in result.stderr
    # tokenward's own tool variables are not settings, and not problems either.
    tools = {"TOKENWARD_PG_BIN": "/usr/bin", "TOKENWARD_TEST_ISOLATED_AUTH_SECRET": SECRET}
    assert run("settings", "check", env=tools).returncode == 0


def test_jwks_says_when_it_writes_the_development_private_key(tmp_path: Path) -> None:
    """Issue 20 item 25: ``tokenward jwks`` wrote a private key into the current directory
    (.tokenward/signing-keys.json) without a word. It says so on stderr, and says which key it
    uses when the file is there already; stdout stays the JWK set."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TOKENWARD_")}
    env["TOKENWARD_TOKEN_ALGORITHM"] = "ES256"

    def jwks() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), "jwks"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    written = tmp_path / ".tokenward" / "signing-keys.json"
    first = jwks()
    assert first.returncode == 0, first.stderr
    assert written.is_file()
    assert "wrote a new private ES256 signing key" in first.stderr
    assert str(written.resolve()) in first.stderr
    assert "TOKENWARD_SIGNING_KEY_FILE is not set" in first.stderr
    assert [k["alg"] for k in json.loads(first.stdout)["keys"]] == ["ES256"]
    again = jwks()
    assert again.returncode == 0, again.stderr
    assert "using the development key in" in again.stderr and "wrote" not in again.stderr
