"""moto's server as the Cognito stand-in for tests, on loopback.

``moto_idp()`` starts ``ThreadedMotoServer`` on 127.0.0.1 (a free port) and yields its endpoint
and a boto3 ``cognito-idp`` client; ``make_pool`` creates a user pool with two app clients and the
user alice (group ``operator``), signs her in and returns the real tokens. moto serves each pool's
JWKS at ``{endpoint}/{pool_id}/.well-known/jwks.json``; the issuer in its tokens is the AWS one.
Callers skip with ``pytest.importorskip("boto3")`` / ``("moto.server")`` before using these.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
PASSWORD = "Correct-Horse-42!"


@dataclass
class Pool:
    id: str
    client: str
    other_client: str
    jwks_url: str
    access: str
    id_token: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.id}"


@contextmanager
def moto_idp() -> Iterator[tuple[str, Any]]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        idp = boto3.client(
            "cognito-idp",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield endpoint, idp
    finally:
        server.stop()


def sign_in(idp: Any, pool_id: str, client: str) -> dict[str, str]:
    """alice's access and ID tokens through ``client``."""
    result = idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client,
        AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return {"access": result["AccessToken"], "id": result["IdToken"]}


def make_pool(idp: Any, endpoint: str, name: str) -> Pool:
    pool_id = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    flows = ["ADMIN_NO_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    clients = [
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName=n, ExplicitAuthFlows=flows)[
            "UserPoolClient"
        ]["ClientId"]
        for n in ("web", "other-app")
    ]
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username="alice",
        TemporaryPassword="Temporary-42!",
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}],
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True
    )
    idp.create_group(UserPoolId=pool_id, GroupName="operator")
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username="alice", GroupName="operator")
    tokens = sign_in(idp, pool_id, clients[0])
    return Pool(
        id=pool_id,
        client=clients[0],
        other_client=clients[1],
        jwks_url=f"{endpoint}/{pool_id}/.well-known/jwks.json",
        access=tokens["access"],
        id_token=tokens["id"],
    )
