"""Tokens and passwords: tokens are random and stored as SHA-256, passwords as argon2id."""

from __future__ import annotations

import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

TOKEN_PREFIX_LENGTH = 8


def new_token(kind: str = "cf") -> str:
    """A new secret token, e.g. `cf_...`; 256 bits of randomness."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    # A fast hash is right for a 256-bit random token: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[:TOKEN_PREFIX_LENGTH]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


REDACTED = "[redacted]"


def redact(text: str, *secrets_: str | None) -> str:
    """`text` with each secret removed, in every form an error message could echo it: whole,
    each space-separated part, the password of `user:password`, and Basic auth's base64."""
    forms: set[str] = set()
    for secret in secrets_:
        if not secret:
            continue
        for part in {secret, *secret.split()}:
            forms |= {part, base64.b64encode(part.encode()).decode()}
            if ":" in part:
                forms.add(part.partition(":")[2])
    for form in sorted((f for f in forms if len(f) >= 6), key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text
