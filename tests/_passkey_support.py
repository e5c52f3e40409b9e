"""A software WebAuthn authenticator (ES256, ``cryptography`` and ``cbor2``) that makes real
attestations (format ``none``) and assertions, so that py_webauthn's verifier checks them as
it would a browser's; and a :class:`~tokenward.signin.SignInUser` over a TokenService for the
tests that run before the accounts' one is merged (it puts ``amr`` in the access token)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tokenward.principal import Principal
from tokenward.stores import UserRecord
from tokenward.tokens import ClientInfo, TokenPair, TokenService

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One credential on a software authenticator. ``counter`` None: no signature counter
    (always 0, as synced passkeys); otherwise it goes up by one per assertion. ``synced`` sets
    the backup flags (BE, BS)."""

    origin: str
    rp_id: str = "localhost"
    counter: int | None = 0
    synced: bool = False
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _flags(self, uv: bool) -> int:
        flags = UP | (UV if uv else 0)
        return flags | (BE | BS if self.synced else 0)

    def _auth_data(self, flags: int, count: int, rp_id: str | None) -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + count.to_bytes(4, "big")

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
    ) -> dict[str, Any]:
        """What ``navigator.credentials.create(options)`` returns, as JSON."""
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        count = self.counter or 0
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
        auth_data = self._auth_data(self._flags(uv) | AT, count, rp_id) + attested
        auth_data += self.cose_key()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """What ``navigator.credentials.get(options)`` returns, as JSON (the counter moves
        first, unless ``counter`` names the one to send)."""
        if counter is None:
            if self.counter is not None:
                self.counter += 1
            counter = self.counter or 0
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(self._flags(uv), counter, rp_id)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }


class TokenSignIn:
    """A SignInUser for tests (the accounts' is ``Services.sign_in_user``): a session for the
    user's record, its access token carrying ``amr``."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def __call__(
        self,
        user: UserRecord,
        *,
        client: ClientInfo | None = None,
        scope: str | None = None,
        amr: Sequence[str] = ("pwd",),
    ) -> TokenPair:
        self.calls.append((user.id, tuple(amr)))
        who = Principal(
            subject=user.id,
            credential_type="access_token",
            email=user.email,
            groups=user.groups,
            provider="custom",
        )
        pair = await self.tokens.start(who, client=client, requested_scope=scope)
        sid = self.tokens.verify_access(pair.access_token)["sid"]
        access = self.tokens.issue_access(who, sid=sid, extra={"amr": list(amr)})
        return TokenPair(access, pair.refresh_token, pair.expires_in)
