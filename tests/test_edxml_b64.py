"""edxml.b64: the fast base64 gives the standard library's answers, strictly."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edxml.b64 import decode_strict, encode_text

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _stdlib(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ours(text: str) -> bytes | None:
    try:
        return decode_strict(text)
    except ValueError:
        return None


@given(st.binary(max_size=3000))
def test_encode_is_the_standard_encoding(data: bytes) -> None:
    assert encode_text(data) == base64.b64encode(data).decode("ascii")
    assert decode_strict(encode_text(data)) == data


@given(
    st.text(alphabet=_ALPHABET, max_size=40)
    | st.text(alphabet=_ALPHABET + " \n\r\t-_*.é\x00", max_size=40)
    | st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode("ascii"))
)
def test_decode_accepts_and_refuses_as_the_standard_library(text: str) -> None:
    assert _ours(text) == _stdlib(text)


@pytest.mark.parametrize("text", ["QQ", "QQ=", "Q===", "QUJD\n", "QU JD", "é", "QQ==QQ==", "-_-_"])
def test_malformed_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        decode_strict(text)
