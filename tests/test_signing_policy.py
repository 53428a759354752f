"""The signature policy: presets, algorithm questions, and refusal of nonsense."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis_errors import ConfigError
from signing.policy import (
    ALL_DIGEST_METHODS,
    ALL_SIGNATURE_METHODS,
    CIRCULAR_15_2025_POLICY,
    DEFAULT_POLICY,
    DIGEST_SHA1,
    DIGEST_SHA256,
    EKU_ANY,
    EKU_DOCUMENT_SIGNING,
    EKU_EMAIL_PROTECTION,
    SIG_ECDSA_SHA1,
    SIG_ECDSA_SHA256,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_PSS_SHA512,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    UNSAFE_LEGACY_POLICY,
    AlgorithmStatus,
    Outcome,
    RevocationMode,
    SignaturePolicy,
)


def test_outcome_values_are_the_shared_vocabulary() -> None:
    assert {o.value for o in Outcome} == {
        "valid",
        "invalid",
        "untrusted",
        "expired",
        "not-yet-valid",
        "revoked",
        "weak-algorithm",
        "unsigned",
        "legacy-unverifiable",
    }
    assert Outcome("weak-algorithm") is Outcome.WEAK_ALGORITHM
    assert isinstance(Outcome.VALID, str)
    assert str(Outcome.VALID) == "valid"
    assert Outcome.VALID.value == "valid"


def test_default_policy() -> None:
    p = DEFAULT_POLICY
    assert p.revocation_mode is RevocationMode.SOFT_FAIL
    assert p.min_rsa_bits == 2048
    assert not p.require_signature
    assert not p.unsafe_accept_sha1_as_legacy
    assert {EKU_DOCUMENT_SIGNING, EKU_EMAIL_PROTECTION, EKU_ANY} == p.accepted_ekus
    assert p.required_key_usage_any == {"digital_signature", "content_commitment"}
    assert p.signature_method_status(SIG_RSA_SHA256) is AlgorithmStatus.ALLOWED
    assert p.signature_method_status(SIG_RSA_PSS_SHA256) is AlgorithmStatus.ALLOWED
    assert p.signature_method_status(SIG_ECDSA_SHA256) is AlgorithmStatus.ALLOWED
    assert p.signature_method_status(SIG_RSA_SHA1) is AlgorithmStatus.REFUSED
    assert p.digest_method_status(DIGEST_SHA256) is AlgorithmStatus.ALLOWED
    assert p.digest_method_status(DIGEST_SHA1) is AlgorithmStatus.REFUSED
    assert p.signature_method_status("http://example.com/rot13") is AlgorithmStatus.REFUSED


def test_circular_15_2025_allows_rsa_pss_only() -> None:
    p = CIRCULAR_15_2025_POLICY
    assert p.signature_method_status(SIG_RSA_PSS_SHA256) is AlgorithmStatus.ALLOWED
    assert p.signature_method_status(SIG_RSA_PSS_SHA512) is AlgorithmStatus.ALLOWED
    assert p.signature_method_status(SIG_RSA_SHA256) is AlgorithmStatus.REFUSED
    assert p.signature_method_status(SIG_ECDSA_SHA256) is AlgorithmStatus.REFUSED
    assert p.signature_method_status(SIG_RSA_SHA1) is AlgorithmStatus.REFUSED
    assert p.min_rsa_bits >= 2048
    assert p.digest_method_status(DIGEST_SHA1) is AlgorithmStatus.REFUSED


def test_unsafe_legacy_makes_sha1_legacy_never_allowed() -> None:
    p = UNSAFE_LEGACY_POLICY
    assert p.signature_method_status(SIG_RSA_SHA1) is AlgorithmStatus.LEGACY
    assert p.signature_method_status(SIG_ECDSA_SHA1) is AlgorithmStatus.LEGACY
    assert p.digest_method_status(DIGEST_SHA1) is AlgorithmStatus.LEGACY
    assert SIG_RSA_SHA1 not in p.signature_methods


def test_policies_are_frozen_and_hashable() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_POLICY.min_rsa_bits = 1024  # type: ignore[misc]
    same = SignaturePolicy()
    assert same == DEFAULT_POLICY
    assert hash(same) == hash(DEFAULT_POLICY)
    assert replace(DEFAULT_POLICY, revocation_mode=RevocationMode.HARD_FAIL) != DEFAULT_POLICY


def test_iterables_and_strings_are_normalised() -> None:
    p = SignaturePolicy(
        signature_methods={SIG_RSA_PSS_SHA256},  # type: ignore[arg-type]
        revocation_mode="hard-fail",  # type: ignore[arg-type]
    )
    assert isinstance(p.signature_methods, frozenset)
    assert p.revocation_mode is RevocationMode.HARD_FAIL
    hash(p)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"signature_methods": frozenset()}, "signature_methods is empty"),
        ({"signature_methods": frozenset({SIG_RSA_SHA1})}, "unsafe_accept_sha1_as_legacy"),
        ({"signature_methods": frozenset({"urn:nonsense"})}, "unknown URI"),
        ({"signature_methods": SIG_RSA_SHA256}, "set of strings"),
        ({"digest_methods": frozenset()}, "digest_methods is empty"),
        ({"digest_methods": frozenset({DIGEST_SHA1})}, "SHA-1"),
        ({"digest_methods": frozenset({"urn:md5"})}, "unknown URI"),
        ({"min_rsa_bits": 1024}, "min_rsa_bits"),
        ({"min_rsa_bits": 2048.0}, "min_rsa_bits"),
        ({"min_rsa_bits": True}, "min_rsa_bits"),
        ({"min_rsa_bits": 1 << 20}, "min_rsa_bits"),
        ({"allowed_ec_curves": frozenset({"brainpoolP256r1"})}, "unknown curve"),
        ({"accepted_ekus": frozenset({"documentSigning"})}, "malformed OID"),
        ({"required_key_usage_any": frozenset()}, "required_key_usage_any is empty"),
        ({"required_key_usage_any": frozenset({"sign_stuff"})}, "unknown usage"),
        ({"required_key_usage_any": frozenset({"key_cert_sign"})}, "unknown usage"),
        ({"max_chain_depth": 0}, "max_chain_depth"),
        ({"max_chain_depth": 99}, "max_chain_depth"),
        ({"revocation_mode": "sometimes"}, "revocation_mode"),
        ({"require_signature": "yes"}, "require_signature"),
        ({"unsafe_accept_sha1_as_legacy": 1}, "unsafe_accept_sha1_as_legacy"),
    ],
)
def test_nonsense_is_a_config_error(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        SignaturePolicy(**changes)
    assert info.value.code == "config.signature-policy"
    assert fragment in info.value.message


@settings(max_examples=60)
@given(
    sigs=st.sets(st.sampled_from(sorted(ALL_SIGNATURE_METHODS)), min_size=1),
    digests=st.sets(st.sampled_from(sorted(ALL_DIGEST_METHODS)), min_size=1),
    legacy=st.booleans(),
    probe=st.sampled_from(sorted(ALL_SIGNATURE_METHODS | {SIG_RSA_SHA1, SIG_ECDSA_SHA1})),
)
def test_method_status_follows_the_sets(
    sigs: set[str], digests: set[str], legacy: bool, probe: str
) -> None:
    p = SignaturePolicy(
        signature_methods=frozenset(sigs),
        digest_methods=frozenset(digests),
        unsafe_accept_sha1_as_legacy=legacy,
    )
    status = p.signature_method_status(probe)
    if probe in sigs:
        assert status is AlgorithmStatus.ALLOWED
    elif probe in {SIG_RSA_SHA1, SIG_ECDSA_SHA1} and legacy:
        assert status is AlgorithmStatus.LEGACY
    else:
        assert status is AlgorithmStatus.REFUSED
    # SHA-1 is never ALLOWED, whatever the sets
    assert p.digest_method_status(DIGEST_SHA1) is not AlgorithmStatus.ALLOWED
    for d in ALL_DIGEST_METHODS:
        assert (p.digest_method_status(d) is AlgorithmStatus.ALLOWED) == (d in digests)
