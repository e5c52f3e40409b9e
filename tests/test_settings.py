"""The settings grouped by concern (tokenward.settings): one registry of every setting, with the
same variable names as before the grouping, each documented in docs/fastapi.md's table and shown
by ``tokenward settings check``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tokenward.settings import SETTING_GROUPS, AuthSettings, settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
TABLE_HEADER = "| variable (after the prefix) | default | meaning |"

# The variables (after the prefix) before the settings were grouped, plus AUTH_SECRET_PREVIOUS and
# the OIDC_* settings of AUTH_PROVIDER=oidc and the transports' (X-API-Key, cookie sessions, CSRF),
# the accounts' (issue 22: sign-up, verification, reset, the password policy and hash cost), and
# the OAUTH_* settings of external sign-in.
BEFORE = """AUTH_PROVIDER AUTH_SECRET DEBUG_EMAIL DEBUG_PASSWORD DEBUG_GROUPS DEBUG_SCOPES
ACCESS_TOKEN_LIFETIME REFRESH_TOKEN_LIFETIME REFRESH_REUSE_GRACE TOKEN_ISSUER LEEWAY STORE_URL
ENVIRONMENT ALLOW_CUSTOM_AUTH_IN_PRODUCTION COGNITO_REGION COGNITO_USER_POOL_ID
COGNITO_APP_CLIENT_ID COGNITO_JWKS_URL COGNITO_ISSUER COGNITO_DOMAIN COGNITO_TOKEN_USE
TOKEN_ALGORITHM SIGNING_KEY_FILE JWKS_PATH JWKS_CACHE_CONTROL FIELD_ENCRYPTION_SECRET
API_KEY_CACHE_TTL MAX_SESSIONS_PER_USER REVOKE_ACCESS_TOKENS SESSION_CHECK_CACHE_TTL
LOGIN_MAX_FAILURES LOGIN_FAILURE_WINDOW LOGIN_MAX_PER_ADDRESS REFRESH_MAX_PER_ADDRESS
TRUSTED_PROXIES AUTH_STRATEGIES BASIC_REALM WEBSOCKET_TOKEN_QUERY ROLES SCOPES DEFAULT_ROLE
SUPER_ADMIN_ROLE ACCESS_SET_IN_TOKEN TRUST_GATEWAY_CLAIMS TOKEN_CACHE_SIZE AUTH_SECRET_PREVIOUS
OIDC_ISSUER OIDC_ISSUERS OIDC_AUDIENCE OIDC_PRESET OIDC_GROUPS_CLAIM OIDC_ROLES_CLAIM
OIDC_SCOPE_CLAIMS OIDC_TENANTS OIDC_DISCOVERY_URL OIDC_JWKS_URL OIDC_INTROSPECTION_URL
OIDC_CLIENT_ID OIDC_CLIENT_SECRET OIDC_INTROSPECTION_CACHE_TTL
API_KEY_HEADER COOKIE_SESSIONS COOKIE_ACCESS_NAME COOKIE_REFRESH_NAME ALLOWED_ORIGINS
WEBAUTHN_RP_ID WEBAUTHN_RP_NAME WEBAUTHN_ORIGINS PASSKEY_SIGNIN
SMTP_URL SMTP_FROM SMTP_TIMEOUT APP_URL
MFA_ISSUER MFA_MAX_ATTEMPTS MFA_ATTEMPT_WINDOW MFA_TOKEN_TTL MFA_FRESH_MAX_AGE
SIGNUP EMAIL_VERIFICATION REVOKE_SESSIONS_ON_RESET VERIFY_EMAIL_TTL RESET_PASSWORD_TTL
SIGNUP_FIELDS PASSWORD_MIN_LENGTH PASSWORD_MAX_LENGTH PASSWORD_REQUIRE_UPPERCASE
PASSWORD_REQUIRE_LOWERCASE PASSWORD_REQUIRE_DIGIT PASSWORD_REQUIRE_SYMBOL PASSWORD_REJECT_COMMON
PASSWORD_HASH_PASSES PASSWORD_HASH_MEMORY_KIB
OAUTH_PROVIDERS OAUTH_GOOGLE_CLIENT_ID OAUTH_GOOGLE_CLIENT_SECRET OAUTH_GOOGLE_SCOPES
OAUTH_GITHUB_CLIENT_ID OAUTH_GITHUB_CLIENT_SECRET OAUTH_GITHUB_SCOPES OAUTH_GITHUB_AUTHORIZE_URL
OAUTH_GITHUB_TOKEN_URL OAUTH_GITHUB_API_URL OAUTH_OIDC_CLIENT_ID OAUTH_OIDC_CLIENT_SECRET
OAUTH_OIDC_ISSUER OAUTH_OIDC_SCOPES OAUTH_SIGNUP OAUTH_REDIRECT_BASE_URL
OAUTH_AFTER_SIGN_IN_URL""".split()


def documented(path: Path) -> list[str]:
    """The variables the settings tables of one page name (a row may name several): the tables
    whose header is TABLE_HEADER (docs/fastapi.md's; a guide such as docs/oidc.md may have one)."""
    text = path.read_text(encoding="utf-8")
    names: list[str] = []
    for table in text.split(TABLE_HEADER)[1:]:
        for line in table.splitlines()[2:]:
            if not line.startswith("|"):
                break
            names += re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])
    return names


def test_every_setting_is_in_one_group_with_a_description() -> None:
    listed = settings()
    fields = [item.field for item in listed]
    assert sorted(fields) == sorted(AuthSettings.model_fields), "a field outside every group"
    assert len(set(fields)) == len(fields)
    assert not {n for n in vars(AuthSettings).get("__annotations__", {}) if not n.startswith("_")}
    for item in listed:
        assert item.description.strip(), f"{item.variable()} has no description"
    groups = [vars(group)["concern"] for group in SETTING_GROUPS]
    assert len(set(groups)) == len(groups)
    assert [item.group for item in listed] == sorted(
        (item.group for item in listed), key=groups.index
    )


def test_the_variable_names_did_not_change() -> None:
    assert sorted(item.variable("") for item in settings()) == sorted(BEFORE)
    values = {
        "TW_GROUPED_COGNITO_REGION": "eu-west-1",
        "TW_GROUPED_LOGIN_MAX_FAILURES": "7",
        "TW_GROUPED_STORE_URL": "sqlite:///x.db",
        "TW_GROUPED_REFRESH_TOKEN_LIFETIME": "PT2H",
    }
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        read = AuthSettings.from_env("TW_GROUPED_")
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert read.cognito_region == "eu-west-1" and read.login_max_failures == 7
    assert read.store_url == "sqlite:///x.db"
    assert read.refresh_token_lifetime.total_seconds() == 7200


def test_docs_list_every_setting_and_no_other() -> None:
    """The settings tables of docs/ (docs/fastapi.md's, and a guide's of the same form) name
    each registered variable, and nothing that is not a setting: adding a setting without
    documenting it fails here."""
    pages = {path.name: documented(path) for path in sorted(DOCS.glob("*.md"))}
    assert pages["fastapi.md"], "docs/fastapi.md has no settings table"
    names = {name for found in pages.values() for name in found}
    known = {item.variable("") for item in settings()}
    assert sorted(names - known) == [], "documented but not a setting"
    assert sorted(known - names) == [], "a setting missing from docs/fastapi.md's table"
    for page, found in pages.items():
        assert len(found) == len(set(found)), f"documented twice in docs/{page}"


def test_settings_check_shows_every_setting_by_group() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    secret = "a settings-check secret of 32 bytes or more"
    env["TOKENWARD_AUTH_SECRET"] = secret
    command = [sys.executable, "-m", "tokenward.cli", "settings", "check"]
    text = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    heads = [line.strip().rstrip(":") for line in lines if line.startswith("  ") and ":" in line]
    groups = [vars(group)["concern"] for group in SETTING_GROUPS]
    assert [h for h in heads if h in groups] == groups
    for item in settings():
        assert f"    {item.variable()} = " in text.stdout
    assert secret not in text.stdout
    body = json.loads(
        subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert list(body["settings"]) == [item.field for item in settings()]
