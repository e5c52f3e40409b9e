"""What accounts share with every layer above the stores, framework-free: the one way an email
is normalised.

A user store (:class:`tokenward.stores.UserStore`) compares emails as it is given them, so every
caller (sign-up, sign-in, the password reset, the command line, an import) passes
:func:`normalize_email`'s result and nothing else: two spellings of one address then find one
account, and a second sign-up with ``Alice@Example.COM `` meets the first one's
:class:`~tokenward.exceptions.DuplicateUserError`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_email"]


def normalize_email(email: str) -> str:
    """``email`` trimmed of surrounding white space, in Unicode NFKC and case-folded
    (``str.casefold``, which also folds ``ß`` to ``ss``), then NFKC again (case folding can
    undo a normal form). The local part is folded too: no mail system in use tells ``Alice``
    from ``alice``, and an account system that did would let two people hold one address.
    Checks nothing else (whether it is an address at all is the caller's question)."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded).strip()
