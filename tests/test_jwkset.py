"""tokenward.JWKSet: parsing, limits, skipped keys, and key selection inside a Verifier."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import tokenward as tw

NOW = 1_700_000_000
CLAIMS = {"sub": "alice", "exp": NOW + 60}


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture(scope="module")
def keys() -> dict[str, tw.JWK]:
    return {
        "es256": tw.JWK.generate("ES256"),
        "es256b": tw.JWK.generate("ES256"),
        "es384": tw.JWK.generate("ES384"),
        "rs256": tw.JWK.generate("RS256"),
        "eddsa": tw.JWK.generate("EdDSA"),
    }


def no_kid(key: tw.JWK) -> tw.JWK:
    """The same key without a kid (so tokens it signs carry none)."""
    return tw.JWK.from_json({k: v for k, v in key.to_dict(private=True).items() if k != "kid"})


def with_members(key: tw.JWK, **members: Any) -> tw.JWK:
    return tw.JWK.from_json({**key.to_dict(private=key.is_private), **members})


def jwks_dict(*jwks: tw.JWK) -> dict[str, Any]:
    return {"keys": [k.to_dict() for k in jwks]}


# --------------------------------------------------------------------------------------------
# parsing


def test_parse_str_bytes_and_dict(keys: dict[str, tw.JWK]) -> None:
    doc = jwks_dict(keys["es256"].public(), keys["rs256"].public(), keys["eddsa"].public())
    text = json.dumps(doc)
    for data in (text, text.encode(), doc):
        parsed = tw.JWKSet.from_json(data)
        assert len(parsed) == 3
        assert parsed.skipped == []
        assert [k.kid for k in parsed] == [keys[n].kid for n in ("es256", "rs256", "eddsa")]
        assert [k.kid for k in parsed.keys] == [k.kid for k in parsed]
        assert all(isinstance(k, tw.JWK) for k in parsed.keys)
        assert not any(k.is_private for k in parsed)


def test_get(keys: dict[str, tw.JWK]) -> None:
    parsed = tw.JWKSet.from_json(jwks_dict(keys["es256"].public(), keys["rs256"].public()))
    found = parsed.get(keys["rs256"].kid)
    assert found is not None
    assert found.key_type == "RSA"
    assert found.thumbprint() == keys["rs256"].thumbprint()
    assert parsed.get("missing") is None
    assert parsed.get("") is None
    assert parsed.get(keys["rs256"].kid.lower() + "x") is None


def test_constructor_and_to_json(keys: dict[str, tw.JWK]) -> None:
    built = tw.JWKSet([keys["es256"], keys["eddsa"].public()])
    assert len(built) == 2
    public_doc = json.loads(built.to_json())
    assert [set(k) & {"d"} for k in public_doc["keys"]] == [set(), set()]
    private_doc = json.loads(built.to_json(private=True))
    assert "d" in private_doc["keys"][0]
    assert "d" not in private_doc["keys"][1]
    again = tw.JWKSet.from_json(built.to_json())
    assert [k.thumbprint() for k in again] == [k.thumbprint() for k in built]
    assert len(tw.JWKSet([])) == 0
    assert len(tw.JWKSet.from_json({"keys": []})) == 0


def test_skipped_keys_with_reasons(keys: dict[str, tw.JWK]) -> None:
    good = keys["es256"].public().to_dict()
    short_secret = b64e(b"short-secret-SKIPME")
    doc = {
        "keys": [
            {"kty": "XYZ", "kid": "unknown-kty", "x": "AAAA"},
            good,
            {**keys["rs256"].public().to_dict(), "kid": "enc-alg", "alg": "RSA-OAEP-256"},
            {**keys["es384"].public().to_dict(), "kid": "unknown-alg", "alg": "ES999"},
            {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": good["x"]},
            {**good, "kid": "off-curve", "y": good["x"]},
            {"kty": "oct", "kid": "weak", "k": short_secret, "alg": "HS256"},
            "not an object",
            {"kid": "no-kty"},
        ]
    }
    parsed = tw.JWKSet.from_json(doc)
    assert len(parsed) == 1
    assert parsed.keys[0].kid == good["kid"]
    assert len(parsed.skipped) == 8
    assert all(isinstance(r, str) and r for r in parsed.skipped)
    assert len(set(parsed.skipped)) == 8
    for reason in parsed.skipped:
        assert short_secret not in reason
        assert "SKIPME" not in reason
        assert good["x"] not in reason
    assert tw.JWKSet.from_json(json.dumps(doc)).skipped == parsed.skipped


def test_weak_rsa_key_skipped() -> None:
    n = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    n_b64 = b64e(n.public_numbers().n.to_bytes(128, "big"))
    parsed = tw.JWKSet.from_json({"keys": [{"kty": "RSA", "kid": "weak", "n": n_b64, "e": "AQAB"}]})
    assert len(parsed) == 0
    assert len(parsed.skipped) == 1
    assert n_b64[:20] not in parsed.skipped[0]


def test_max_bytes(keys: dict[str, tw.JWK]) -> None:
    text = json.dumps(jwks_dict(keys["es256"].public(), keys["eddsa"].public()))
    assert len(tw.JWKSet.from_json(text, max_bytes=len(text))) == 2
    assert len(tw.JWKSet.from_json(text.encode(), max_bytes=len(text))) == 2
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(text, max_bytes=len(text) - 1)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(text.encode(), max_bytes=100)
    # the default cap is 1 MiB
    padded = json.dumps({**jwks_dict(keys["es256"].public()), "pad": "x" * (1 << 20)})
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(padded)
    assert len(tw.JWKSet.from_json(padded, max_bytes=2 << 20)) == 1


def test_max_keys(keys: dict[str, tw.JWK]) -> None:
    three = jwks_dict(keys["es256"].public(), keys["es384"].public(), keys["eddsa"].public())
    assert len(tw.JWKSet.from_json(three, max_keys=3)) == 3
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(three, max_keys=2)
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(json.dumps(three), max_keys=2)
    # the default cap is 100 keys, counting entries that would be skipped
    many = {"keys": [{"kty": "XYZ"}] * 101}
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(many)
    assert len(tw.JWKSet.from_json({"keys": [{"kty": "XYZ"}] * 100}).skipped) == 100


@pytest.mark.parametrize(
    "data",
    [
        "[]",
        "null",
        '"keys"',
        "{}",
        '{"Keys": []}',
        '{"keys": {}}',
        '{"keys": "x"}',
        '{"keys": null}',
        "{",
        "",
        '{"keys": [], "keys": []}',
        b"\x00",
        [],
        {},
        {"key": []},
        {"keys": {"kty": "oct"}},
    ],
)
def test_not_a_jwks(data: Any) -> None:
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(data)


def _set_outcome(data: Any, max_keys: int = 100) -> tuple[Any, ...]:
    try:
        parsed = tw.JWKSet.from_json(data, max_keys=max_keys)
    except tw.InvalidKeyError as exc:
        return ("refused", str(exc))
    return ([(k.to_dict(private=True), k.kid, k.use, k.key_ops) for k in parsed], parsed.skipped)


def test_text_and_mapping_give_the_same_set(keys: dict[str, tw.JWK]) -> None:
    """JWKS text is read from simdjson's DOM, a mapping from nlohmann's: the same keys, the same
    skipped entries with the same reasons, and the same refusals either way."""
    rs = keys["rs256"].public().to_dict()
    es = keys["es256"].public().to_dict()
    entries: list[Any] = [
        rs,
        {**rs, "kid": "dup"},
        {**es, "kid": "dup"},
        {**rs, "kid": "skipped-dup", "key_ops": ["verify", "verify"]},
        {**es, "kid": "skipped-dup"},
        {**rs, "kid": 7},
        {**rs, "n": rs["n"] + "="},
        {**rs, "key_ops": ["verify", 1]},
        {**es, "use": "enc", "kid": "enc"},
        keys["eddsa"].to_dict(private=True),
        {"kty": "XYZ", "kid": "unknown"},
        {"kid": "no-kty"},
        "not an object",
        [rs],
        None,
    ]
    docs: list[tuple[Any, int]] = [
        ({"keys": entries}, 100),
        ({"keys": entries, "other": {"keys": []}}, 100),
        ({"keys": []}, 100),
        ({"keys": entries * 10}, 100),  # 150 entries: too many
        ({"keys": entries * 10}, 150),
        ({"keys": {"kty": "oct"}}, 100),
        ({"keys": None}, 100),
        ({"Keys": entries}, 100),
        ([entries], 100),
    ]
    for doc, max_keys in docs:
        text = json.dumps(doc)
        outcome = _set_outcome(doc, max_keys)
        assert _set_outcome(text, max_keys) == outcome, text[:200]
        assert _set_outcome(text.encode(), max_keys) == outcome, text[:200]
    first = _set_outcome(docs[0][0])
    assert _set_outcome(docs[3][0], 100) == (
        "refused",
        "the JWKS holds 150 keys; at most 100 are accepted",
    )
    assert len(first[0]) == 6 and len(first[1]) == 9
    parsed = tw.JWKSet.from_json(json.dumps(docs[0][0]))
    for kid in ("dup", "skipped-dup"):
        with pytest.raises(tw.KeyNotFoundError):
            parsed.get(kid)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"keys": [], "keys": []}', "JWKS: duplicate member name"),
        (b'{"keys": [{"kty": "oct", "kty": "oct"}]}', "JWKS: duplicate member name"),
        (b'{"keys": [[[[[[[[1]]]]]]]]}', "JWKS: nesting too deep"),
        (b'{"keys": [], "x": 18446744073709551616}', "JWKS: number out of range or malformed"),
        (b'{"keys": ["\xc3\x28"]}', "JWKS: invalid JSON"),
        (b'{"keys": [], "x": "\\ud800"}', "JWKS: invalid JSON"),
        (b'{"keys": []}\x00', "JWKS: invalid JSON"),
        (b'{"keys": []', "JWKS: invalid JSON"),
    ],
)
def test_malformed_jwks_text_messages(text: bytes, message: str) -> None:
    """Text the JSON rules refuse is refused with parse_json's words (simdjson's own differ)."""
    with pytest.raises(tw.InvalidKeyError) as exc:
        tw.JWKSet.from_json(text)
    assert str(exc.value) == message


def test_deeply_nested_jwks_refused() -> None:
    text = '{"keys": [], "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    with pytest.raises(tw.InvalidKeyError):
        tw.JWKSet.from_json(text)


# --------------------------------------------------------------------------------------------
# key selection


def test_kid_selects_the_key(keys: dict[str, tw.JWK]) -> None:
    keyset = tw.JWKSet([k.public() for k in keys.values()])
    verifier = tw.Verifier(keyset, algorithms=["ES256", "ES384", "RS256", "EdDSA"])
    for key in keys.values():
        assert verifier.verify(tw.encode(CLAIMS, key), now=NOW) == CLAIMS


def test_duplicate_kid_is_key_not_found(keys: dict[str, tw.JWK]) -> None:
    a = with_members(keys["es256"], kid="dup")
    b = with_members(keys["es256b"], kid="dup")
    keyset = tw.JWKSet([a.public(), b.public()])
    token = tw.encode(CLAIMS, a)
    assert tw.unverified_header(token)["kid"] == "dup"
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(keyset, algorithms=["ES256"]).verify(token, now=NOW)
    # also when the duplicates are of different types
    c = with_members(keys["rs256"], kid="dup")
    mixed = tw.JWKSet([a.public(), c.public()])
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(mixed, algorithms=["ES256", "RS256"]).verify(token, now=NOW)
    parsed = tw.JWKSet.from_json(jwks_dict(a.public(), b.public()))
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(parsed, algorithms=["ES256"]).verify(token, now=NOW)


def test_missing_kid_is_key_not_found(keys: dict[str, tw.JWK]) -> None:
    keyset = tw.JWKSet([keys["es256"].public()])
    token = tw.encode(CLAIMS, keys["es256b"])
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(keyset, algorithms=["ES256"]).verify(token, now=NOW)
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(tw.JWKSet([]), algorithms=["ES256"]).verify(token, now=NOW)


def test_no_kid_single_candidate(keys: dict[str, tw.JWK]) -> None:
    signer = no_kid(keys["es256"])
    token = tw.encode(CLAIMS, signer)
    assert "kid" not in tw.unverified_header(token)
    # one key in the set
    alone = tw.JWKSet([keys["es256"].public()])
    assert tw.Verifier(alone, algorithms=["ES256"]).verify(token, now=NOW) == CLAIMS
    # several keys, only one of which fits ES256
    others = tw.JWKSet([keys["rs256"].public(), keys["es256"].public(), keys["es384"].public()])
    assert (
        tw.Verifier(others, algorithms=["ES256", "RS256", "ES384"]).verify(token, now=NOW) == CLAIMS
    )


def test_no_kid_several_candidates(keys: dict[str, tw.JWK]) -> None:
    token = tw.encode(CLAIMS, no_kid(keys["es256"]))
    both = tw.JWKSet([keys["es256"].public(), keys["es256b"].public()])
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(both, algorithms=["ES256"]).verify(token, now=NOW)
    # two RSA keys that both fit RS256
    rs_token = tw.encode(CLAIMS, no_kid(keys["rs256"]))
    pair = tw.JWKSet([keys["rs256"].public(), tw.JWK.generate("RS256").public()])
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(pair, algorithms=["RS256"]).verify(rs_token, now=NOW)


def test_no_kid_no_candidate(keys: dict[str, tw.JWK]) -> None:
    token = tw.encode(CLAIMS, no_kid(keys["es256"]))
    keyset = tw.JWKSet([keys["es384"].public(), keys["eddsa"].public()])
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(keyset, algorithms=["ES256", "ES384", "EdDSA"]).verify(token, now=NOW)


def test_single_key_passed_directly_ignores_kid(keys: dict[str, tw.JWK]) -> None:
    token = tw.encode(CLAIMS, keys["es256"], headers={"kid": "some-other-kid"})
    assert (
        tw.Verifier(keys["es256"].public(), algorithms=["ES256"]).verify(token, now=NOW) == CLAIMS
    )
    no_exp = tw.encode({"sub": "alice"}, keys["es256"], headers={"kid": "some-other-kid"})
    assert tw.decode(no_exp, keys["es256"].public(), algorithms=["ES256"]) == {"sub": "alice"}
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(tw.JWKSet([keys["es256"].public()]), algorithms=["ES256"]).verify(
            token, now=NOW
        )


def test_kid_matches_but_alg_does_not_fit(keys: dict[str, tw.JWK]) -> None:
    token = tw.encode(CLAIMS, keys["es384"], headers={"kid": keys["es256"].kid})
    keyset = tw.JWKSet([keys["es256"].public(), keys["es384"].public()])
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tw.Verifier(keyset, algorithms=["ES256", "ES384"]).verify(token, now=NOW)


def test_mixing_oct_and_asymmetric_keys_is_a_configuration_error(keys: dict[str, tw.JWK]) -> None:
    secret = tw.JWK.from_secret(b"s" * 32, "HS256")
    mixed = tw.JWKSet([secret, keys["rs256"].public()])
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(mixed, algorithms=["RS256"])
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(mixed, algorithms=["HS256", "RS256"])
    parsed = tw.JWKSet.from_json(
        {"keys": [secret.to_dict(private=True), keys["es256"].public().to_dict()]}
    )
    assert len(parsed) == 2
    with pytest.raises(tw.ConfigurationError):
        tw.Verifier(parsed, algorithms=["ES256"])
    with pytest.raises(tw.ConfigurationError):
        tw.decode(tw.encode(CLAIMS, secret), parsed, algorithms=["HS256"])
    # a set of secrets only is fine
    only = tw.JWKSet([with_members(secret, kid="a"), tw.JWK.generate("HS256")])
    token = tw.encode(CLAIMS, tw.JWK.from_json({**secret.to_dict(private=True), "kid": "a"}))
    assert tw.Verifier(only, algorithms=["HS256"]).verify(token, now=NOW) == CLAIMS


@pytest.mark.parametrize(
    ("members", "allowed"),
    [
        ({"use": "enc"}, False),
        ({"use": "sig"}, True),
        ({"use": "x-other"}, False),
        ({"key_ops": ["verify"]}, True),
        ({"key_ops": ["sign", "verify"]}, True),
        ({"key_ops": ["sign"]}, False),
        ({"key_ops": ["encrypt", "wrapKey"]}, False),
        ({"key_ops": ["x-custom"]}, True),
        ({"use": "sig", "key_ops": ["verify"]}, True),
        ({"use": "enc", "key_ops": ["verify"]}, False),
    ],
)
def test_use_and_key_ops(members: dict[str, Any], allowed: bool, keys: dict[str, tw.JWK]) -> None:
    """RFC 7517 §4.2/§4.3: a key not meant for verifying signatures is not used for it."""
    public = with_members(keys["es256"].public(), **members)
    token = tw.encode(CLAIMS, keys["es256"])
    no_kid_token = tw.encode(CLAIMS, no_kid(keys["es256"]))
    keyset = tw.JWKSet([public])
    if allowed:
        assert tw.Verifier(public, algorithms=["ES256"]).verify(token, now=NOW) == CLAIMS
        assert tw.Verifier(keyset, algorithms=["ES256"]).verify(token, now=NOW) == CLAIMS
        assert tw.Verifier(keyset, algorithms=["ES256"]).verify(no_kid_token, now=NOW) == CLAIMS
        return
    with pytest.raises(tw.InvalidKeyError):
        tw.Verifier(public, algorithms=["ES256"]).verify(token, now=NOW)
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(keyset, algorithms=["ES256"]).verify(token, now=NOW)
    with pytest.raises(tw.KeyNotFoundError):
        tw.Verifier(keyset, algorithms=["ES256"]).verify(no_kid_token, now=NOW)


def test_replace_keys(keys: dict[str, tw.JWK]) -> None:
    old = tw.JWKSet([keys["es256"].public()])
    new = tw.JWKSet([keys["es256b"].public()])
    verifier = tw.Verifier(old, algorithms=["ES256"])
    token = tw.encode(CLAIMS, keys["es256b"])
    with pytest.raises(tw.KeyNotFoundError):
        verifier.verify(token, now=NOW)
    verifier.replace_keys(new)
    assert verifier.verify(token, now=NOW) == CLAIMS
    assert [k.kid for k in verifier.keys] == [keys["es256b"].kid]
    with pytest.raises(tw.KeyNotFoundError):
        verifier.verify(tw.encode(CLAIMS, keys["es256"]), now=NOW)


def test_parse_from_many_threads(keys: dict[str, tw.JWK]) -> None:
    # Each thread keeps its own OpenSSL import contexts (jwk_json.cpp); sets parsed in parallel,
    # good and bad keys mixed, come out the same as on one thread.
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    numbers = weak.public_numbers()
    bad = {"kty": "RSA", "kid": "weak", "n": b64e(numbers.n.to_bytes(128, "big")), "e": "AQAB"}
    doc = jwks_dict(*keys.values())
    doc["keys"].append(bad)
    text = json.dumps(doc)
    expected = tw.JWKSet.from_json(text)

    def parse(_: int) -> tuple[list[str], int]:
        out = tw.JWKSet.from_json(text)
        return [k.thumbprint() for k in out.keys], len(out.skipped)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(parse, range(64)))
    assert all(r == ([k.thumbprint() for k in expected.keys], 1) for r in results)
    assert len(expected.keys) == len(keys)
