"""Secrets the system must read back (a hub's WebSub secret, destination credentials), stored
encrypted with a key derived from CROSSFEED_SECRET_KEY.

Fernet (AES-128-CBC with HMAC-SHA256, from the cryptography package) does the work; the key
comes from the secret key through HKDF, so the secret key itself is never used as a key and
other uses of it stay independent. Changing the secret key makes stored secrets unreadable:
`decrypt` then raises CannotDecrypt, and the feature that needed the secret reports it.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.settings import Settings

_INFO = b"crossfeed stored secrets v1"


class CannotDecrypt(Exception):
    """The value was encrypted under another secret key, or altered."""


@functools.cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(settings: Settings, plaintext: str) -> str:
    return _fernet(settings.secret_key.get_secret_value()).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return _fernet(settings.secret_key.get_secret_value()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CannotDecrypt("stored secret unreadable: was CROSSFEED_SECRET_KEY changed?") from exc
