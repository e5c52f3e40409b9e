"""The settings moved to :mod:`tokenward.settings` (a CLI and apps without FastAPI read them too);
this module keeps the old import path working."""

from __future__ import annotations

from tokenward.settings import (
    DEFAULT_DEBUG_PASSWORD,
    DEFAULT_PREFIX,
    DEFAULT_TOKEN_CACHE_SIZE,
    AuthSettings,
)

__all__ = ["DEFAULT_DEBUG_PASSWORD", "DEFAULT_PREFIX", "DEFAULT_TOKEN_CACHE_SIZE", "AuthSettings"]
