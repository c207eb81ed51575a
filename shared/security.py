"""Tokens and passwords: tokens are random and stored as SHA-256, passwords as argon2id."""

from __future__ import annotations

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
