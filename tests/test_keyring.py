"""tokenward.KeyRing: current, next and previous keys; rotation; files; the ring as a key source."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path

import pytest

import tokenward as tw

ISS = "https://auth.example"
PUBLIC_MEMBERS = {"kty", "kid", "alg", "use", "n", "e", "crv", "x", "y"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def claims(**extra: object) -> dict[str, object]:
    return {"iss": ISS, "sub": "u1", "exp": int(time.time()) + 600, **extra}


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "EdDSA", "HS256"])
def test_sign_and_verify(algorithm: str) -> None:
    ring = tw.KeyRing.generate(algorithm)
    t = ring.sign(claims())
    header = tw.unverified_header(t)
    assert header == {"alg": algorithm, "typ": "JWT", "kid": ring.current_kid}
    assert ring.verifier(issuer=ISS).verify(t)["sub"] == "u1"
    assert tw.Verifier(ring, algorithms=[algorithm]).verify(t)["sub"] == "u1"


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "EdDSA"])
def test_public_jwks_holds_only_public_members(algorithm: str) -> None:
    ring = tw.KeyRing.generate(algorithm, with_next=True)
    doc = ring.public_jwks()
    assert [k["kid"] for k in doc["keys"]] == ring.kids
    for member in doc["keys"]:
        assert member["alg"] == algorithm and member["use"] == "sig"
        assert not set(member) & PRIVATE_MEMBERS
        assert set(member) <= PUBLIC_MEMBERS
        key = tw.JWK.from_json(member)
        assert not key.is_private
        assert key.thumbprint() == member["kid"]  # kid = RFC 7638 thumbprint
    # what it publishes verifies its tokens
    published = tw.JWKSet.from_json(doc)
    assert tw.decode(ring.sign(claims()), published, algorithms=[algorithm])["sub"] == "u1"


def test_an_hmac_ring_publishes_nothing() -> None:
    ring = tw.KeyRing.generate("HS256")
    assert ring.public_jwks() == {"keys": []}
    assert not ring.publishes
    assert ring.verifier().verify(ring.sign(claims()))["sub"] == "u1"


def test_rotation_keeps_previous_keys_until_their_tokens_expire() -> None:
    clock = Clock()
    ring = tw.KeyRing.generate("ES256", max_token_lifetime=900, leeway=60, clock=clock)
    assert ring.retention == 960
    v = ring.verifier(issuer=ISS)
    first = ring.current_kid
    old_token = ring.sign(claims())
    new = ring.rotate()
    assert new != first and ring.current_kid == new
    assert ring.kids == [new, first]
    new_token = ring.sign(claims())
    assert tw.unverified_header(new_token)["kid"] == new
    # the verifier sees the rotation at once, and both keys verify
    assert v.verify(old_token)["sub"] == "u1"
    assert v.verify(new_token)["sub"] == "u1"
    clock.now += 959
    assert first in ring.kids
    clock.now += 2
    assert ring.kids == [new]  # every token the old key signed has expired
    assert [k["kid"] for k in ring.public_jwks()["keys"]] == [new]
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(old_token)


def test_a_next_key_is_published_ahead_of_its_use() -> None:
    ring = tw.KeyRing.generate("EdDSA")
    current = ring.current_kid
    upcoming = ring.stage_next()
    assert ring.stage_next() == upcoming  # staging again keeps it
    assert ring.next_kid == upcoming
    assert [k["kid"] for k in ring.public_jwks()["keys"]] == [current, upcoming]
    assert tw.unverified_header(ring.sign(claims()))["kid"] == current  # it does not sign yet
    assert ring.rotate() == upcoming
    assert ring.next_kid is None
    assert ring.kids == [upcoming, current]


def test_headers_cannot_change_the_key_or_the_algorithm() -> None:
    ring = tw.KeyRing.generate("ES256")
    t = ring.sign(claims(), {"typ": "at+jwt", "x-extra": 1})
    assert tw.unverified_header(t)["typ"] == "at+jwt"
    for name in ("alg", "kid", "crit", "jku", "jwk"):
        with pytest.raises(tw.ConfigurationError):
            ring.sign(claims(), {name: "x"})
    with pytest.raises(TypeError):
        ring.sign("not claims")  # type: ignore[arg-type]


def test_construction_is_checked() -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.KeyRing.generate("RS512")
    with pytest.raises(tw.ConfigurationError):
        tw.KeyRing("ES256", [])
    with pytest.raises(tw.InvalidKeyError):
        tw.KeyRing("ES256", [tw.JWK.generate("ES256").public()])  # it must sign
    with pytest.raises(tw.InvalidKeyError):
        tw.KeyRing("ES256", [tw.JWK.generate("EdDSA")])
    with pytest.raises(tw.ConfigurationError):
        tw.KeyRing.generate("ES256", max_token_lifetime=-1)
    key = tw.JWK.generate("ES256")
    with pytest.raises(tw.ConfigurationError, match="twice"):
        tw.KeyRing("ES256", [key, key])


def test_existing_keys_are_named_by_their_thumbprint() -> None:
    key = tw.JWK.from_json({**tw.JWK.generate("ES256").to_dict(private=True), "kid": "mine"})
    ring = tw.KeyRing("ES256", [key])
    assert ring.current_kid == key.thumbprint() != "mine"


def test_a_ring_is_a_key_source() -> None:
    ring = tw.KeyRing.generate("ES256")
    assert isinstance(ring, tw.KeySource)
    assert len(ring.get_keys()) == 1
    assert ring.keys_for_kid("unknown") is None
    assert len(asyncio.run(ring.get_keys_async())) == 1
    assert asyncio.run(ring.keys_for_kid_async(None)) is None
    v = ring.verifier()
    assert asyncio.run(v.verify_async(ring.sign(claims())))["sub"] == "u1"


# --- files ----------------------------------------------------------------------------------


def test_save_and_load_a_jwk_set(tmp_path: Path) -> None:
    clock = Clock()
    ring = tw.KeyRing.generate("RS256", max_token_lifetime=600, clock=clock)
    first = ring.current_kid
    old_token = ring.sign(claims())
    ring.rotate()
    ring.stage_next()
    path = tmp_path / "ring.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["keys"][0]["kid"] == ring.current_kid  # current first
    assert "d" in doc["keys"][0]
    clock.now += 300
    loaded = tw.KeyRing.load(path, max_token_lifetime=600, clock=clock)
    assert loaded.kids == ring.kids
    assert loaded.next_kid == ring.next_kid
    assert loaded.verifier(issuer=ISS).verify(old_token)["sub"] == "u1"
    clock.now += 301  # the retirement time survived the file: 601 s after the rotation
    assert first not in loaded.kids


def test_a_plain_jwk_set_loads_current_first() -> None:
    keys = [tw.JWK.generate("ES256") for _ in range(2)]
    doc = {"keys": [k.to_dict(private=True) for k in keys]}
    ring = tw.KeyRing.from_json(json.dumps(doc))
    assert ring.kids == [keys[0].thumbprint(), keys[1].thumbprint()]
    assert ring.current_kid == keys[0].thumbprint()
    with pytest.raises(tw.InvalidKeyError):
        tw.KeyRing.from_json("[]")


def test_save_and_load_pem(tmp_path: Path) -> None:
    ring = tw.KeyRing.generate("ES256")
    ring.rotate()
    path = tmp_path / "ring.pem"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().count("BEGIN PRIVATE KEY") == 2
    with pytest.raises(tw.ConfigurationError, match="algorithm"):
        tw.KeyRing.load(path)
    loaded = tw.KeyRing.load(path, algorithm="ES256")
    assert loaded.kids == ring.kids
    assert loaded.verifier().verify(ring.sign(claims()))["sub"] == "u1"
    with pytest.raises(tw.ConfigurationError, match="PEM"):
        tw.KeyRing.generate("HS256").save(tmp_path / "secret.pem")


def test_load_or_create(tmp_path: Path) -> None:
    path = tmp_path / "dev-keys.json"
    ring = tw.KeyRing.load_or_create(path, "ES256")
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = tw.KeyRing.load_or_create(path, "ES256")
    assert again.current_kid == ring.current_kid  # the same key across restarts
    other = tw.KeyRing.load_or_create(path, "EdDSA")  # the algorithm changed: a new key
    assert other.algorithm == "EdDSA" and other.current_kid != ring.current_kid
    assert tw.KeyRing.load(path).algorithm == "EdDSA"


def test_load_or_create_with_pem(tmp_path: Path) -> None:
    path = tmp_path / "dev-keys.pem"
    ring = tw.KeyRing.load_or_create(path, "ES256")
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert tw.KeyRing.load_or_create(path, "ES256").current_kid == ring.current_kid
    other = tw.KeyRing.load_or_create(path, "EdDSA")
    assert other.algorithm == "EdDSA" and other.current_kid != ring.current_kid
    assert tw.KeyRing.load(path, algorithm="EdDSA").current_kid == other.current_kid
    path.write_text("not a key")
    with pytest.raises(tw.InvalidKeyError):
        tw.KeyRing.load_or_create(path, "EdDSA")  # a broken file is never replaced silently


def test_a_broken_ring_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "dev-keys.json"
    path.write_text('{"keys": [{"kty": "EC"}]}')
    with pytest.raises(tw.InvalidKeyError):
        tw.KeyRing.load_or_create(path, "ES256")
    assert path.read_text() == '{"keys": [{"kty": "EC"}]}'


def test_load_or_create_warns_about_a_readable_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dev-keys.json"
    tw.KeyRing.load_or_create(path, "ES256")
    path.chmod(0o644)
    tw.KeyRing.load_or_create(path, "ES256")
    assert "readable by others" in caplog.text
