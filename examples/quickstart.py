"""A two-minute tour of tokenward without a web framework.

    python examples/quickstart.py

Generates a key, signs a token, verifies it, and shows the typed errors for a tampered, an
expired and an unsigned token.
"""

from __future__ import annotations

import base64
import json
import time

import tokenward as tw


def main() -> None:
    key = tw.JWK.generate("ES256")
    print(f"generated {key!r}")
    print(f"public JWK: {key.public().to_json()}")

    now = int(time.time())
    claims = {"sub": "u1", "iss": "https://issuer.example", "aud": "api", "exp": now + 300}
    token = tw.encode(claims, key)
    print(f"\ntoken: {token}\n")

    verifier = tw.Verifier(
        key.public(), algorithms=["ES256"], issuer="https://issuer.example", audience="api"
    )
    print(f"verified claims: {verifier.verify(token)}")

    header, payload, signature = token.split(".")
    forged = dict(claims, sub="admin")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    expired = tw.encode(dict(claims, exp=now - 60), key)
    unsigned_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    attempts = {
        "payload changed after signing": f"{header}.{forged_payload}.{signature}",
        "expired": expired,
        "alg none": f"{unsigned_header}.{payload}.",
    }
    for label, bad in attempts.items():
        try:
            verifier.verify(bad)
        except tw.InvalidTokenError as exc:
            print(f"rejected ({label}): {type(exc).__name__}: {exc}")
        else:
            raise SystemExit(f"BUG: accepted a token that should fail ({label})")


if __name__ == "__main__":
    main()
