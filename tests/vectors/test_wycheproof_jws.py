"""Wycheproof JSON Web Signature and JSON Web Key vectors, run through the public API.

Each case builds the group's key material ("public" when present, else "private"; a single
JWK or a {"keys": [...]} set), a ``Verifier`` and calls ``verify_signature``. A "valid" case
must return the payload bytes; an "invalid" case must raise ``tw.TokenwardError`` at key
import, verifier construction or verification -- any other exception is a failure.

The verifier allows every algorithm tokenward knows (``tw.ALGORITHMS``), not only the key's
"alg": the vectors test what the library does with a key, so a token whose alg does not fit
the key (HS256 against an EC key, RS256 against a PS512 key, alg "none") must be refused by
the key-fit checks of the core, not by a narrow allow-list that would hide a missing check.

Every case whose expected result or inputs we had to interpret is listed in DECISIONS (for
json_web_signature_test.json) or JWK_DECISIONS (for json_web_key_test.json) with the reason.
"""

from __future__ import annotations

from typing import Any

import _wycheproof as W
import pytest

if not W.available():
    pytest.skip(W.MISSING_REASON, allow_module_level=True)

import tokenward as tw

JWS_FILE = "json_web_signature_test"
JWK_FILE = "json_web_key_test"
ALL_ALGORITHMS: list[str] = list(tw.ALGORITHMS)

# tcId -> decision and reason, json_web_signature_test.json.
DECISIONS: dict[int, str] = {
    346: (
        "rfc7520 Figure20: the group's key says alg PS256 but the token (RFC 7520 4.2) is "
        "PS384. RFC 7520's RSA key (Figure 3) carries no alg; Wycheproof added one. tokenward "
        "enforces a key's own alg (RFC 7517 4.4), so the case is run with the key's alg member "
        "removed and must be valid; the key as given must be rejected (asserted too)."
    ),
    347: (
        "rfc7520 Figure27: the group's key says alg 'ES521' (not a registered JWS alg; P-521 "
        "is ES512) and the token is ES512. RFC 7520's EC key (Figure 1) carries no alg. Run "
        "with the alg member removed: must be valid; the key as given must be rejected."
    ),
    350: (
        "rfc7520WithKeyOps Figure20: as tcId 346 (key alg PS256, token PS384); the public key "
        "has key_ops ['verify']. Run with alg removed: valid; key as given: rejected."
    ),
    351: (
        "rfc7520WithKeyOps Figure27: as tcId 347 (key alg 'ES521', token ES512). Run with alg "
        "removed: valid; key as given: rejected."
    ),
    349: (
        "rfc7520WithKeyOps Figure13: the public key (used here) has key_ops ['verify']; the "
        "private key has key_ops ['sign, verify'] -- one malformed string naming no registered "
        "operation. The core reads key_ops that name only unregistered values as saying "
        "nothing, so the private key verifies too (the private-key variant asserts valid)."
    ),
    367: (
        "invalidBase64Padding: the token is byte-for-byte tcId 357's (ValidMac, same group, "
        "same key), which is valid -- a fault of the file (the padded token was lost). We "
        "assert the literal token verifies (as 357) and that the padded forms (header + '=', "
        "payload + '==', signature + '=') are rejected as MalformedTokenError."
    ),
    370: (
        "invalidBase64PaddingInPayload: the token is byte-for-byte tcId 357's, as tcId 367. "
        "Same assertions as 367."
    ),
    372: (
        "InvalidCharacterInsertedInHeader is labelled valid, but the header segment contains "
        "'?', outside the base64url alphabet (RFC 7515 2; RFC 4648 5), and the signing input "
        "(RFC 7515 5.2) then differs from the one that was MACed. tokenward decodes strict "
        "base64url: we assert MalformedTokenError, and that the same token without the '?' "
        "(tcId 357's) verifies with payload b'Test'. Wycheproof's own JsonWebSignatureTest "
        "lists this tcId among the base64 cases a strict library does not follow."
    ),
    373: (
        "InvalidCharacterInsertedInPayload: as tcId 372, with the '?' in the payload segment. "
        "Asserted: MalformedTokenError; without the '?': valid, payload b'Test'."
    ),
}

# tcId -> decision and reason, json_web_key_test.json.
JWK_DECISIONS: dict[int, str] = {
    1: (
        "jws_mixedSymmetryKeyset (an HS256 oct key and an ES256 key in one set) is invalid by "
        "the core's rule that a set mixing oct and asymmetric keys cannot build a Verifier "
        "(ConfigurationError), whatever the token."
    ),
}

# Core bugs reported to the lead and not fixed yet: (file stem, tcId) -> what happens. The
# xfail is strict: once the core is fixed the case XPASSes, fails, and the entry goes.
CORE_BUGS: dict[tuple[str, int], str] = {}

# Cases run with the group key's "alg" member removed (reason in DECISIONS).
KEY_ALG_DROPPED = frozenset({346, 347, 350, 351})
# Cases whose token is tcId 357's, labelled invalid (reason in DECISIONS).
COPY_OF_VALID_357 = frozenset({367, 370})
# Cases labelled valid whose token holds a '?' outside base64url (reason in DECISIONS).
NON_BASE64URL_LABELLED_VALID = frozenset({372, 373})


def _case_id(case: W.Case) -> str:
    return f"tc{case.tc_id}-{case.comment}"


def _param(case: W.Case) -> Any:
    bug = CORE_BUGS.get((case.stem, case.tc_id))
    marks = [] if bug is None else [pytest.mark.xfail(strict=True, reason=bug)]
    return pytest.param(case, id=_case_id(case), marks=marks)


def _params(stem: str, *, both_keys_only: bool = False) -> list[Any]:
    return [
        _param(case)
        for case in W.cases(stem)
        if not both_keys_only or ("public" in case.group and "private" in case.group)
    ]


def _payload(jws: str) -> bytes:
    return W.b64url_decode(jws.split(".")[1])


def _material(case: W.Case, member: str) -> dict[str, Any]:
    material: dict[str, Any] = case.group[member]
    if case.stem == JWS_FILE and case.tc_id in KEY_ALG_DROPPED:
        assert "keys" not in material
        material = {name: value for name, value in material.items() if name != "alg"}
    return material


def _verify(material: dict[str, Any], jws: str) -> bytes:
    """Key import, verifier construction and signature check, as an application does them."""
    keys: tw.JWK | tw.JWKSet
    if "keys" in material:
        keys = tw.JWKSet.from_json(material)
    else:
        keys = tw.JWK.from_json(material)
    verifier = tw.Verifier(keys, algorithms=ALL_ALGORITHMS)
    return verifier.verify_signature(jws)


def _token_of(stem: str, tc_id: int) -> str:
    for case in W.cases(stem):
        if case.tc_id == tc_id:
            jws: str = case.test["jws"]
            return jws
    raise LookupError(f"{stem} has no tcId {tc_id}")


def _check(case: W.Case, member: str) -> None:
    jws: str = case.test["jws"]
    material = _material(case, member)
    tc_id = case.tc_id

    if case.stem == JWS_FILE and tc_id in COPY_OF_VALID_357:
        assert jws == _token_of(JWS_FILE, 357), "the file changed: revisit DECISIONS"
        assert _verify(material, jws) == _payload(jws)
        header, payload, signature = jws.split(".")
        for padded in (
            f"{header}=.{payload}.{signature}",
            f"{header}.{payload}==.{signature}",
            f"{header}.{payload}.{signature}=",
        ):
            with pytest.raises(tw.MalformedTokenError):
                _verify(material, padded)
        return

    if case.stem == JWS_FILE and tc_id in NON_BASE64URL_LABELLED_VALID:
        assert case.result == "valid" and jws.count("?") == 1, "the file changed"
        with pytest.raises(tw.MalformedTokenError):
            _verify(material, jws)
        canonical = jws.replace("?", "")
        assert _verify(material, canonical) == _payload(canonical) == b"Test"
        return

    if case.result == "valid":
        assert _verify(material, jws) == _payload(jws)
    else:
        assert case.result == "invalid", f"unexpected result {case.result!r}"
        with pytest.raises(tw.TokenwardError):
            _verify(material, jws)

    if case.stem == JWS_FILE and tc_id in KEY_ALG_DROPPED:
        # The key exactly as the file gives it: its alg does not fit the token.
        with pytest.raises(tw.TokenwardError):
            _verify(case.group[member], jws)


def _key_member(case: W.Case) -> str:
    return "public" if "public" in case.group else "private"


@pytest.mark.parametrize("case", _params(JWS_FILE))
def test_json_web_signature(case: W.Case) -> None:
    _check(case, _key_member(case))


@pytest.mark.parametrize("case", _params(JWK_FILE))
def test_json_web_key(case: W.Case) -> None:
    _check(case, _key_member(case))


# The same cases with the group's private key, where a group has both: a private JWK must
# verify exactly as its public half does (this is also where a malformed key_ops such as
# ["sign, verify"] is exercised).
@pytest.mark.parametrize("case", _params(JWS_FILE, both_keys_only=True))
def test_json_web_signature_private_key(case: W.Case) -> None:
    _check(case, "private")


@pytest.mark.parametrize("case", _params(JWK_FILE, both_keys_only=True))
def test_json_web_key_private_key(case: W.Case) -> None:
    _check(case, "private")


@pytest.mark.parametrize("stem", [JWS_FILE, JWK_FILE])
def test_case_count(stem: str) -> None:
    run = W.cases(stem)
    assert len(run) == W.load(stem)["numberOfTests"]
    assert len({case.tc_id for case in run}) == len(run)


def test_decisions_name_existing_cases() -> None:
    jws_ids = {case.tc_id for case in W.cases(JWS_FILE)}
    jwk_ids = {case.tc_id for case in W.cases(JWK_FILE)}
    assert set(DECISIONS) <= jws_ids
    assert set(JWK_DECISIONS) <= jwk_ids
    assert KEY_ALG_DROPPED | COPY_OF_VALID_357 | NON_BASE64URL_LABELLED_VALID <= set(DECISIONS)
