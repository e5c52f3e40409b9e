"""``Authenticator``: strategies composed, in ``any`` or ``all`` mode.

* ``any``: the strategies are tried in order and the first that returns a Principal wins. One
  that recognises its credential shape owns the answer: its failure is final (a bad ``vk_`` key
  is a 401, not a fall-through). When none answers, the request is refused with one
  ``WWW-Authenticate`` challenge per strategy tried and a message naming what was accepted.
* ``all``: every strategy must return a Principal (a bearer token *and* a gateway identity, say);
  the identity is the first one's; any failure refuses at once.

Errors carry their challenges (:attr:`tokenward.TokenwardError.challenges`), so whatever answers
the request (the FastAPI layer, a CLI, another framework) sends the right ``WWW-Authenticate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tokenward.exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidTokenError,
    NotAuthenticatedError,
    TokenwardError,
)
from tokenward.principal import Principal
from tokenward.strategies import Credentials, Strategy

__all__ = ["Authenticator", "Mode"]

Mode = Literal["any", "all"]


class Authenticator:
    """Strategies in order, and how to combine them (see the module docstring)."""

    __slots__ = ("_hint", "_schemes", "mode", "strategies")

    def __init__(self, strategies: Sequence[Strategy], mode: Mode = "any") -> None:
        if mode not in ("any", "all"):
            raise ConfigurationError("mode must be 'any' or 'all'")
        if not strategies:
            raise ConfigurationError("an Authenticator needs at least one strategy")
        names = [s.name for s in strategies]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"a strategy is listed twice: {names}")
        self.strategies: tuple[Strategy, ...] = tuple(strategies)
        self.mode: Mode = mode
        joiner = " or " if mode == "any" else " and "
        self._hint = joiner.join(s.hint for s in self.strategies)
        self._schemes = frozenset(s.scheme for s in self.strategies if s.scheme)

    def __repr__(self) -> str:
        return f"<Authenticator {self.mode} {[s.name for s in self.strategies]}>"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.strategies)

    def challenges(
        self, failed: Strategy | None = None, error: TokenwardError | None = None
    ) -> tuple[str, ...]:
        """One challenge per strategy (identical ones once); ``failed`` gets ``error``'s."""
        out: dict[str, None] = {}
        for strategy in self.strategies:
            value = strategy.challenge(error if strategy is failed else None)
            if value is not None:
                out.setdefault(value, None)
        # A bare "Bearer" says nothing once another Bearer challenge names the error.
        if "Bearer" in out and any(c.startswith("Bearer ") for c in out):
            del out["Bearer"]
        return tuple(out)

    def _refuse(self, strategy: Strategy, error: TokenwardError) -> TokenwardError:
        error.challenges = self.challenges(strategy, error)
        if len(self.strategies) > 1:  # the detail then names the alternatives too
            error.accepted = self._hint
        return error

    def _nothing(self, credentials: Credentials) -> TokenwardError:
        scheme = credentials.scheme
        if scheme in self._schemes:
            # Credentials of an accepted scheme came, but no strategy took them: a token of an
            # issuer nobody here serves. (Another scheme counts as no credentials.) The error
            # goes to the challenge of the first strategy reading that scheme.
            error: TokenwardError = InvalidTokenError(
                "the credentials were not accepted: send " + self._hint
            )
            reader = next(s for s in self.strategies if s.scheme == scheme)
            return self._refuse(reader, error)
        return NotAuthenticatedError(
            "no credentials: send " + self._hint, challenges=self.challenges()
        )

    async def authenticate(self, credentials: Credentials) -> Principal:
        """The Principal the credentials prove, or a :class:`~tokenward.TokenwardError` with
        its challenges set."""
        if self.mode == "any":
            for strategy in self.strategies:
                try:
                    principal = await strategy.authenticate(credentials)
                except (InvalidTokenError, AuthenticationError) as exc:
                    raise self._refuse(strategy, exc) from None
                if principal is not None:
                    return principal
            raise self._nothing(credentials)
        proven: list[Principal] = []
        for strategy in self.strategies:
            try:
                principal = await strategy.authenticate(credentials)
            except (InvalidTokenError, AuthenticationError) as exc:
                raise self._refuse(strategy, exc) from None
            if principal is None:
                # Nothing at all is "not signed in" (anonymous on an optional route); some of
                # the credentials without the rest is a refusal, never anonymous.
                kind = AuthenticationError if proven else NotAuthenticatedError
                error = kind(
                    f"this needs {self._hint}; {strategy.hint} is missing",
                    challenges=self.challenges(),
                )
                raise error
            proven.append(principal)
        return proven[0]
