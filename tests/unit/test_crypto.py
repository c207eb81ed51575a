from __future__ import annotations

from pathlib import Path

import pytest

from shared.crypto import CannotDecrypt, decrypt, encrypt
from tests.conftest import make_settings


def test_round_trip_and_no_plaintext(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    token = encrypt(settings, "hub-secret-value")
    assert "hub-secret-value" not in token
    assert decrypt(settings, token) == "hub-secret-value"
    assert encrypt(settings, "hub-secret-value") != token  # a fresh IV each time


def test_another_key_cannot_read_it(tmp_path: Path) -> None:
    token = encrypt(make_settings(tmp_path), "x")
    other = make_settings(tmp_path, secret_key="another-secret-" + "k" * 40)
    with pytest.raises(CannotDecrypt, match="CROSSFEED_SECRET_KEY"):
        decrypt(other, token)
    with pytest.raises(CannotDecrypt):
        decrypt(make_settings(tmp_path), token[:-4] + "AAAA")
