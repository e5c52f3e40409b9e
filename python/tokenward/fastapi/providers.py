"""The providers moved to :mod:`tokenward.providers` (they need no web framework); this module
keeps the old import path working."""

from __future__ import annotations

from tokenward.providers import AuthProvider, CognitoProvider, CustomProvider

__all__ = ["AuthProvider", "CognitoProvider", "CustomProvider"]
