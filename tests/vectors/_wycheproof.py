"""Loading Project Wycheproof vector files for the tests in this directory.

The vectors are shared material, never copied into the repository: they live in the
``shared`` directory that sits next to the repository root (``../shared/vectors/wycheproof``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

VECTORS_DIR: Path = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "wycheproof"
MISSING_REASON = (
    "Wycheproof vectors not found: expected ../shared/vectors/wycheproof next to the "
    "repository root"
)


def available() -> bool:
    """Whether the shared Wycheproof directory is present."""
    return VECTORS_DIR.is_dir()


@cache
def load(stem: str) -> dict[str, Any]:
    """The parsed vector file ``<stem>.json``."""
    document: dict[str, Any] = json.loads((VECTORS_DIR / f"{stem}.json").read_text("utf-8"))
    return document


@dataclass(frozen=True)
class Case:
    """One test of one group of one vector file."""

    stem: str
    group_index: int
    group: dict[str, Any]
    test: dict[str, Any]

    @property
    def tc_id(self) -> int:
        tc_id: int = self.test["tcId"]
        return tc_id

    @property
    def result(self) -> str:
        result: str = self.test["result"]
        return result

    @property
    def comment(self) -> str:
        comment: str = self.test.get("comment", "")
        return comment

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(self.test.get("flags", ()))


def cases(stem: str) -> list[Case]:
    """Every case of the file, in file order."""
    return [
        Case(stem, index, group, test)
        for index, group in enumerate(load(stem)["testGroups"])
        for test in group["tests"]
    ]


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (vector data only; not a validator)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
