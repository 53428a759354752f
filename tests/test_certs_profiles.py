"""The shipped trust profiles (``certs.profiles``) and their pins."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from axis_errors import ConfigError
from certs import pki, profiles

# Pinned here independently of certs/profiles.py, from ../shared/trust/README.md.
EXPECTED = {
    "vgca-rootcag2.pem": "F0:4B:A4:B4:59:A7:C9:A1:B9:71:AD:9B:1C:B8:33:E6:95:A8:0C:79:AE:A6:3B:17:4B:66:A7:0E:DF:E2:FD:B8",  # noqa: E501
    "vgca-cpcag2.pem": "D8:CA:B7:A4:AE:F9:2E:6B:B2:50:9D:7C:61:CE:E7:B4:4F:37:31:B2:D2:10:74:96:35:30:27:7B:36:6F:AE:4B",  # noqa: E501
    "neac-vnrca256.pem": "BA:C8:BF:60:9A:B4:20:A8:EE:17:80:D7:4F:4D:E5:C7:F7:18:49:59:D2:A7:37:5B:0A:75:E4:C2:9F:09:08:E7",  # noqa: E501
}

NOW = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)


def fp(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def shipped(name: str) -> bytes:
    return resources.files("certs").joinpath("trust", "gov-vn", name).read_bytes()


def test_gov_vn_loads_with_the_expected_fingerprints() -> None:
    certs = profiles.load_profile("gov-vn")
    assert [fp(c) for c in certs] == list(EXPECTED.values())
    cns = [c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in certs]
    assert cns == [
        "RootCA chuyên dùng Chính phủ G2",
        "CA phục vụ các cơ quan Nhà nước G2",
        "Vietnam National Root CA",
    ]
    for c in certs:
        key = c.public_key()
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 4096


def test_pins_in_code_equal_the_independent_pins() -> None:
    assert dict(profiles.PINNED_SHA256) == {f"gov-vn/{k}": v for k, v in EXPECTED.items()}
    assert set(profiles.PROFILES["gov-vn"].files) == set(EXPECTED)
    assert profiles.profile_names() == ("gov-vn",)


def test_shipped_files_equal_the_shared_ones(shared_dir: Path) -> None:
    for name in EXPECTED:
        assert shipped(name) == (shared_dir / "trust" / name).read_bytes(), name


def test_the_gov_readme_states_the_pins() -> None:
    readme = resources.files("certs").joinpath("trust", "gov-vn", "README.md").read_text("utf-8")
    for value in EXPECTED.values():
        assert value in readme
    assert "official" in readme


def test_split_anchors() -> None:
    anchors, intermediates = profiles.split_anchors(profiles.load_profile("gov-vn"))
    assert [fp(c) for c in anchors] == [
        EXPECTED["vgca-rootcag2.pem"],
        EXPECTED["neac-vnrca256.pem"],
    ]
    assert [fp(c) for c in intermediates] == [EXPECTED["vgca-cpcag2.pem"]]
    intermediates[0].verify_directly_issued_by(anchors[0])


def test_a_replaced_certificate_is_refused() -> None:
    pems = {f"gov-vn/{name}": shipped(name) for name in EXPECTED}
    pins = dict(profiles.PINNED_SHA256)
    assert len(profiles.check_pinned(pems, pins)) == 3
    impostor = pki.make_root_ca("RootCA chuyên dùng Chính phủ G2", now=NOW, key_size=2048)
    pems["gov-vn/vgca-rootcag2.pem"] = impostor.cert_pem()
    with pytest.raises(ConfigError) as info:
        profiles.check_pinned(pems, pins)
    assert info.value.code == "trust.fingerprint-mismatch"
    assert info.value.details["file"] == "gov-vn/vgca-rootcag2.pem"
    assert info.value.details["actual"] == impostor.fingerprint


def test_unpinned_missing_and_unreadable_files_are_refused() -> None:
    pems = {f"gov-vn/{name}": shipped(name) for name in EXPECTED}
    pins = dict(profiles.PINNED_SHA256)
    extra = dict(pems, **{"gov-vn/extra.pem": shipped("vgca-cpcag2.pem")})
    with pytest.raises(ConfigError) as info:
        profiles.check_pinned(extra, pins)
    assert info.value.code == "trust.unpinned"
    fewer = {k: v for k, v in pems.items() if not k.endswith("neac-vnrca256.pem")}
    with pytest.raises(ConfigError) as info:
        profiles.check_pinned(fewer, pins)
    assert info.value.code == "trust.missing"
    garbled = dict(pems, **{"gov-vn/vgca-cpcag2.pem": b"not a certificate"})
    with pytest.raises(ConfigError) as info:
        profiles.check_pinned(garbled, pins)
    assert info.value.code == "trust.bad-certificate"
    two = dict(pems, **{"gov-vn/vgca-cpcag2.pem": shipped("vgca-cpcag2.pem") * 2})
    with pytest.raises(ConfigError) as info:
        profiles.check_pinned(two, pins)
    assert info.value.code == "trust.bad-certificate"


def test_pins_ignore_case_and_colons() -> None:
    name = "gov-vn/vgca-rootcag2.pem"
    pin = EXPECTED["vgca-rootcag2.pem"].replace(":", "").lower()
    (cert,) = profiles.check_pinned({name: shipped("vgca-rootcag2.pem")}, {name: pin})
    assert fp(cert) == EXPECTED["vgca-rootcag2.pem"]


def test_unknown_profile() -> None:
    with pytest.raises(ConfigError) as info:
        profiles.load_profile("gov-xx")
    assert info.value.code == "trust.unknown-profile"


def test_load_pem_bundle(tmp_path: Path) -> None:
    root = pki.make_root_ca("Dev root", now=NOW, key_size=2048)
    other = pki.make_root_ca("Other root", now=NOW, key_size=2048)
    path = tmp_path / "anchors.pem"
    path.write_bytes(root.cert_pem() + other.cert_pem())
    assert profiles.load_pem_bundle(path) == (root.cert, other.cert)
    with pytest.raises(ConfigError) as info:
        profiles.load_pem_bundle(tmp_path / "absent.pem")
    assert info.value.code == "trust.io"
    path.write_bytes(b"junk")
    with pytest.raises(ConfigError) as info:
        profiles.load_pem_bundle(path)
    assert info.value.code == "trust.bad-certificate"


def test_certs_trust_is_the_same_api() -> None:
    from certs import trust

    assert trust.load_profile is profiles.load_profile
    assert [fp(c) for c in trust.load_profile("gov-vn")] == list(EXPECTED.values())
