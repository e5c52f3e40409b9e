"""The account routes under real uvicorn processes: on SQLite, and as two instances on one
PostgreSQL (sign up on one, verify and sign in on the other); concurrent bursts against the
single-use tokens and the per-route limits, sent from threads over real sockets. Mail goes
through on_send to a file (tests/accounts_app.py)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests._uvicorn_support import serve
from tests.pg_server import PostgresServer

TESTS = Path(__file__).resolve().parent
SECRET = "accounts-uvicorn-secret-0123456789-abcdefghijk"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"


def settings(mailbox: Path, store_url: str, instance: str = "a", **more: str) -> dict[str, str]:
    values = {
        "INSTANCE": instance,
        "TOKENWARD_TEST_MAILBOX": str(mailbox),
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": store_url,
        "TOKENWARD_SIGNUP": "open",
        "TOKENWARD_PASSWORD_HASH_MEMORY_KIB": "19456",
        "TOKENWARD_LOGIN_MAX_PER_ADDRESS": "10000",
    }
    values.update({f"TOKENWARD_{k.upper()}": v for k, v in more.items()})
    return values


def mails(mailbox: Path, kind: str, email: str) -> list[str]:
    if not mailbox.exists():
        return []
    found = []
    for line in mailbox.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["kind"] == kind and item["email"] == email:
            found.append(item["token"])
    return found


def wait_mails(mailbox: Path, kind: str, email: str, count: int) -> list[str]:
    """The tokens mailed so far, once at least ``count`` have come (mail goes out after the
    answer, from a background task); fails after a bounded wait."""
    deadline = time.monotonic() + 30
    while True:
        found = mails(mailbox, kind, email)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{count} {kind} mail(s) to {email} expected, {len(found)} came")
        time.sleep(0.05)


def burst(count: int, send: Callable[[int], httpx.Response]) -> list[int]:
    """``count`` requests released at once from as many threads; their statuses."""
    barrier = threading.Barrier(count)
    statuses: list[int] = [0] * count

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        statuses[i] = send(i).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def post(base: str, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(base + "/v1/auth" + path, json=body, headers=headers, timeout=60)


@contextlib.contextmanager
def one_instance(tmp: Path, **more: str) -> Iterator[tuple[str, Path]]:
    mailbox = tmp / "mailbox.jsonl"
    url = "sqlite:///" + str(tmp / "accounts.db")
    with serve(
        "accounts_app:app",
        settings(mailbox, url, **more),
        workdir=tmp,
        app_dir=TESTS,
        ready_path="/health",
    ) as server:
        yield server.base_url, mailbox


def test_bursts_against_single_use_tokens_and_limits(tmp_path: Path) -> None:
    with one_instance(tmp_path) as (base, mailbox):
        # sign-up: 3 per e-mail per hour, whatever arrives at once
        statuses = burst(
            8, lambda i: post(base, "/signup", {"email": "a@example.com", "password": PASSWORD})
        )
        assert sorted(statuses) == [202] * 3 + [429] * 5
        (token,) = wait_mails(mailbox, "verify-email", "a@example.com", 1)  # one account
        # the verification token works once
        statuses = burst(8, lambda i: post(base, "/verify-email", {"token": token}))
        assert sorted(statuses) == [204] + [400] * 7
        # forgot-password: always 200; at most 3 mails an hour
        statuses = burst(8, lambda i: post(base, "/forgot-password", {"email": "a@example.com"}))
        assert statuses == [200] * 8
        resets = wait_mails(mailbox, "reset-password", "a@example.com", 3)
        assert len(resets) == 3
        # a reset token works once (5 tries per address per 15 minutes, so 5 in the burst)
        statuses = burst(
            5,
            lambda i: post(
                base, "/reset-password", {"token": resets[0], "password": f"{NEW_PASSWORD} {i}"}
            ),
        )
        assert sorted(statuses) == [204] + [400] * 4
        assert (
            post(
                base, "/reset-password", {"token": resets[1], "password": NEW_PASSWORD}
            ).status_code
            == 429
        )
        # sign-in: the lock-out holds under a burst of wrong passwords
        statuses = burst(
            9, lambda i: post(base, "/login", {"email": "a@example.com", "password": "wrong one!"})
        )
        assert sorted(statuses) == [401] * 5 + [429] * 4


def test_resend_verification_limit_under_a_burst(tmp_path: Path) -> None:
    with one_instance(tmp_path, email_verification="optional") as (base, mailbox):
        created = post(base, "/signup", {"email": "b@example.com", "password": PASSWORD})
        assert created.status_code == 201
        token = created.json()["access_token"]
        statuses = burst(
            7,
            lambda i: httpx.post(
                base + "/v1/auth/resend-verification",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ),
        )
        assert sorted(statuses) == [202] * 3 + [429] * 4
        assert len(wait_mails(mailbox, "verify-email", "b@example.com", 4)) == 4  # sign-up + 3


psycopg = pytest.importorskip("psycopg")


def test_two_instances_on_one_postgresql(tmp_path: Path) -> None:
    """Sign up on one instance, verify and sign in on the other; a reset on one ends the
    sessions the other started; racing the same token against both spends it once."""
    mailbox = tmp_path / "mailbox.jsonl"
    with PostgresServer() as pg, contextlib.ExitStack() as stack:
        url = pg.create_database("accounts")
        a, b = (
            stack.enter_context(
                serve(
                    "accounts_app:app",
                    settings(mailbox, url, name),
                    workdir=tmp_path,
                    app_dir=TESTS,
                    name=name,
                    ready_path="/health",
                )
            ).base_url
            for name in ("a", "b")
        )
        assert (
            post(a, "/signup", {"email": "c@example.com", "password": PASSWORD}).status_code == 202
        )
        taken = post(b, "/signup", {"email": "C@example.com", "password": PASSWORD})
        assert taken.status_code == 202  # the other instance hides the taken address too
        refused = post(b, "/login", {"email": "c@example.com", "password": PASSWORD})
        assert refused.status_code == 401 and refused.json()["error"] == "email_not_verified"
        (token,) = wait_mails(mailbox, "verify-email", "c@example.com", 1)
        answers: dict[str, int] = {}
        barrier = threading.Barrier(2)

        def verify(base: str) -> None:
            barrier.wait(timeout=30)
            answers[base] = post(base, "/verify-email", {"token": token}).status_code

        threads = [threading.Thread(target=verify, args=(base,)) for base in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(answers.values()) == [204, 400]
        signed_in = post(b, "/login", {"email": "c@example.com", "password": PASSWORD})
        assert signed_in.status_code == 200
        refresh = signed_in.json()["refresh_token"]
        assert post(a, "/refresh", {"refresh_token": refresh}).status_code == 200
        refresh = post(b, "/login", {"email": "c@example.com", "password": PASSWORD}).json()[
            "refresh_token"
        ]
        assert post(a, "/forgot-password", {"email": "c@example.com"}).status_code == 200
        (reset,) = wait_mails(mailbox, "reset-password", "c@example.com", 1)
        assert (
            post(b, "/reset-password", {"token": reset, "password": NEW_PASSWORD}).status_code
            == 204
        )
        assert post(a, "/refresh", {"refresh_token": refresh}).status_code == 401
        assert (
            post(a, "/login", {"email": "c@example.com", "password": NEW_PASSWORD}).status_code
            == 200
        )
