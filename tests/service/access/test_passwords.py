"""Staff passwords are argon2id at RFC 9106's cost unless a test suite asks for the cheap profile."""

from __future__ import annotations

import pytest

from service.access import passwords


def test_the_default_cost_is_rfc_9106s_and_the_cheap_one_is_asked_for_by_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSWORD_HASH_PROFILE", raising=False)
    real = passwords.hash_password("a long good password")
    assert real.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify(real, "a long good password") and not passwords.verify(real, "a long bad password")
    monkeypatch.setenv("PASSWORD_HASH_PROFILE", "fast-insecure-for-tests")
    cheap = passwords.hash_password("a long good password")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.needs_rehash(real)  # a cheap-profile process would re-hash, never the other way round
    monkeypatch.setenv("PASSWORD_HASH_PROFILE", "md5")
    with pytest.raises(ValueError, match="PASSWORD_HASH_PROFILE must be one of"):
        passwords.hash_password("a long good password")
