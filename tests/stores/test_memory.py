"""The in-memory store (``memory://``) beyond the contract suite it shares with SQLite and
PostgreSQL: how ``open_store`` names it, which stores share a database, and the settings that
refuse it outside development."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tokenward import ConfigurationError
from tokenward.fastapi import AuthSettings
from tokenward.stores import RefreshSession, Store, open_store
from tokenward.stores.memory import MemoryStore

NOW = 1_800_000_000.0


def _token(token_hash: str) -> RefreshSession:
    return RefreshSession(
        token_hash=token_hash,
        family_id="f1",
        subject="u1",
        identity={"groups": ["root"]},
        issued_at=NOW,
        expires_at=NOW + 60,
    )


def test_open_store_makes_a_memory_store() -> None:
    anonymous = open_store("memory://")
    assert isinstance(anonymous, MemoryStore)
    assert anonymous.name == ""
    named = open_store("  MEMORY://tests-a ")
    assert isinstance(named, MemoryStore)
    assert named.name == "tests-a"


def test_a_named_database_is_shared_an_anonymous_one_is_not() -> None:
    name = f"shared-{uuid.uuid4().hex}"

    async def scenario() -> None:
        one, two = open_store(f"memory://{name}"), open_store(f"memory://{name}")
        await one.add_refresh_session(_token("h1"))
        assert await two.get_refresh_session("h1") == _token("h1")
        alone, other = open_store("memory://"), open_store("memory://")
        await alone.add_refresh_session(_token("h1"))
        assert await other.get_refresh_session("h1") is None
        await alone.close()
        await alone.open()
        assert await alone.get_refresh_session("h1") == _token("h1")  # closing keeps the data

    asyncio.run(scenario())


def test_a_stored_identity_is_a_copy() -> None:
    """What a caller does to a record's identity after writing or reading it never changes the
    stored one (as with a SQL store, which keeps it as JSON)."""

    async def scenario(store: Store) -> None:
        written = _token("h1")
        await store.add_refresh_session(written)
        written.identity["groups"].append("later")
        read = await store.get_refresh_session("h1")
        assert read is not None
        assert read.identity == {"groups": ["root"]}
        read.identity["groups"].append("again")
        assert await store.get_refresh_session("h1") == _token("h1")

    asyncio.run(scenario(MemoryStore()))


@pytest.mark.parametrize("environment", ["production", "staging", "qa", "Prod"])
@pytest.mark.parametrize("provider", ["custom", "cognito"])
def test_settings_refuse_memory_outside_development(environment: str, provider: str) -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        store_url="memory://",
        environment=environment,
        auth_provider=provider,
        allow_custom_auth_in_production=True,
        auth_secret="memory-test-secret-0123456789-abcdefgh",
        cognito_region="eu-west-1",
        cognito_user_pool_id="eu-west-1_abc",
        cognito_app_client_id="client",
    )
    with pytest.raises(ConfigurationError) as info:
        settings.check()
    message = str(info.value)
    assert "TOKENWARD_TEST_ISOLATED_STORE_URL" in message
    assert "TOKENWARD_TEST_ISOLATED_ENVIRONMENT" in message
    assert environment in message


@pytest.mark.parametrize("environment", ["development", "test", "local"])
def test_settings_allow_memory_in_development(environment: str) -> None:
    AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_", store_url="memory://dev", environment=environment
    ).check()
