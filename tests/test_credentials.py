"""Credentials: generation, hashing, encryption of stored secrets, the key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.credentials import (
    KEY_BYTES,
    SecretBox,
    default_system_id,
    hash_token,
    load_or_create_key,
    may_act_for,
    new_secret,
    new_token,
    validate_system_id,
)
from axis_errors import ConfigError, InputError, StoreError


def test_generated_values_are_distinct_and_shaped() -> None:
    tokens = {new_token() for _ in range(50)}
    secrets = {new_secret() for _ in range(50)}
    assert len(tokens) == 50 and len(secrets) == 50
    assert all(t.startswith("axis_") and len(t) >= 45 for t in tokens)
    assert all(len(s) >= 43 for s in secrets)


def test_token_hash() -> None:
    assert hash_token("axis_x") == hash_token("axis_x")
    assert hash_token("axis_x") != hash_token("axis_y")
    assert len(hash_token("axis_x")) == 64 and "axis_x" not in hash_token("axis_x")


@given(st.text(max_size=100), st.text(min_size=1, max_size=20))
def test_secret_box_round_trip_and_binding(secret: str, system_id: str) -> None:
    box = SecretBox(b"k" * KEY_BYTES)
    sealed = box.seal(secret, context=system_id)
    assert box.open(sealed, context=system_id) == secret
    if len(secret) >= 12:  # shorter strings may occur in random bytes by chance
        assert secret.encode() not in sealed
    with pytest.raises(StoreError):
        box.open(sealed, context=system_id + "x")
    with pytest.raises(StoreError):
        SecretBox(b"j" * KEY_BYTES).open(sealed, context=system_id)


def test_secret_box_rejects_short_keys_and_hides_the_key() -> None:
    with pytest.raises(ConfigError):
        SecretBox(b"short")
    assert "kkk" not in repr(SecretBox(b"k" * KEY_BYTES))


def test_key_file_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret.key"
    key = load_or_create_key(path)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == key
    path.write_bytes(b"too short")
    with pytest.raises(ConfigError) as info:
        load_or_create_key(path)
    assert info.value.code == "config.secret-key-invalid"


def test_may_act_for() -> None:
    assert may_act_for(["*.H36"], "000.31.31.H36")
    assert may_act_for(["000.00.00.G22", "*.H37"], "000.00.00.G22")
    assert not may_act_for(["*.H36"], "000.00.00.H37")
    assert not may_act_for([], "000.00.00.H36")


def test_system_ids() -> None:
    assert default_system_id(" 000.01.00.h36 ") == "sys.000.01.00.h36"
    assert validate_system_id("vxp.h36.test") == "vxp.h36.test"
    for bad in ("", "a b", "-x", "x" * 65, "é"):
        with pytest.raises(InputError):
            validate_system_id(bad)
