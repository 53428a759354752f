"""The on-disk development PKI (``certs.devpki``) and ``axis pki``."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification as xv

from axis.cli import main
from axis_errors import ConfigError
from certs import devpki
from certs.devpki import DEFAULT_AGENCIES, DevPki, add_agency, init_dev_pki, load_issued

NOW = dt.datetime(2025, 9, 1, 8, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return init_dev_pki(tmp_path_factory.mktemp("pki") / "dev", now=NOW)


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def verify_path(made: DevPki, leaf: x509.Certificate, at: dt.datetime) -> list[x509.Certificate]:
    verifier = (
        xv.PolicyBuilder()
        .store(xv.Store([made.root()]))
        .time(at)
        .extension_policies(
            ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=xv.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    return verifier.verify(leaf, [cert(made.issuing.cert)]).chain


def test_layout(made: DevPki) -> None:
    base = made.directory
    expected = {
        "manifest.json",
        "root-ca.pem",
        "root-crl.pem",
        "root-crl.der",
        "issuing-ca.pem",
        "issuing-ca.key",
        "ca-chain.pem",
        "axis.pem",
        "axis.key",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
        "revoked.pem",
        "revoked.key",
        "expired.pem",
        "expired.key",
        "crl.pem",
        "crl.der",
        "agencies",
    }
    assert {p.name for p in base.iterdir()} == expected
    agency_files = {p.name for p in (base / "agencies").iterdir()}
    assert agency_files == {
        f"{code}.{ext}" for code, _ in DEFAULT_AGENCIES for ext in ("pem", "key")
    }
    assert [a.organ_id for a in made.agencies] == [code for code, _ in DEFAULT_AGENCIES]
    assert [a.name for a in made.agencies] == [name for _, name in DEFAULT_AGENCIES]
    assert made.root_cert == base / "root-ca.pem"
    assert made.agency("000.00.00.G22").cert == base / "agencies" / "000.00.00.G22.pem"


def test_default_agencies_span_the_tiers() -> None:
    codes = dict(DEFAULT_AGENCIES)
    assert codes["000.00.00.H36"] == "UBND tỉnh Lâm Đồng"
    assert codes["000.00.00.G22"] == "Văn phòng Chính phủ"
    assert any(
        c.startswith("000.0") and c.endswith(".00.H36") and c != "000.00.00.H36" for c in codes
    )
    assert any(not c.startswith("000.00") and c.split(".")[2] != "00" for c in codes)  # a commune


def test_every_key_is_0600(made: DevPki) -> None:
    keys = sorted(made.directory.rglob("*.key"))
    assert len(keys) == 6 + len(DEFAULT_AGENCIES)
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_manifest_matches_the_files(made: DevPki) -> None:
    data = json.loads(made.manifest.read_text(encoding="utf-8"))
    assert data["format"] == devpki.MANIFEST_FORMAT
    entries = [made.issuing, made.axis, made.server, made.client, made.revoked, made.expired]
    for entry in [*entries, *made.agencies]:
        c = cert(entry.cert)
        assert entry.sha256 == c.fingerprint(hashes.SHA256()).hex(":").upper()
        assert entry.serial == c.serial_number
        assert entry.key.is_file()
    assert made.root_sha256 == made.root().fingerprint(hashes.SHA256()).hex(":").upper()
    assert DevPki.load(made.directory) == made


def test_chain_relations(made: DevPki) -> None:
    root = made.root()
    issuing = cert(made.issuing.cert)
    assert root.subject == root.issuer
    assert issuing.issuer == root.subject
    issuing.verify_directly_issued_by(root)
    ski = issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    for entry in (made.axis, made.server, made.client, made.revoked, made.expired, *made.agencies):
        leaf = cert(entry.cert)
        assert leaf.issuer == issuing.subject
        leaf.verify_directly_issued_by(issuing)
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == ski.digest
    assert x509.load_pem_x509_certificates(made.ca_chain.read_bytes()) == [issuing, root]
    # The server file carries its issuer, for TLS.
    assert x509.load_pem_x509_certificates(made.server.cert.read_bytes())[1] == issuing


def test_agency_certificates_bind_organ_ids(made: DevPki) -> None:
    for entry in made.agencies:
        issued = made.issued(entry)
        assert issued.organ_id == entry.organ_id
        assert issued.chain == (cert(made.issuing.cert), made.root())
        assert verify_path(made, issued.cert, NOW)[-1] == made.root()
    axis = made.issued(made.axis)
    assert axis.organ_id == devpki.DEFAULT_AXIS[0]
    assert axis.organ_id not in {a.organ_id for a in made.agencies}


def test_the_crl_lists_the_revoked_certificate(made: DevPki) -> None:
    crl = made.crl()
    issuing = cert(made.issuing.cert)
    assert crl.issuer == issuing.subject
    assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    assert not crl.is_signature_valid(made.root().public_key())  # type: ignore[arg-type]
    revoked = cert(made.revoked.cert)
    entry = crl.get_revoked_certificate_by_serial_number(revoked.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc < NOW
    assert [r.serial_number for r in crl] == [revoked.serial_number]
    for other in (made.axis, *made.agencies):
        assert crl.get_revoked_certificate_by_serial_number(other.serial) is None
    assert x509.load_der_x509_crl(made.crl_der.read_bytes()) == crl
    assert crl.last_update_utc <= NOW < crl.next_update_utc  # type: ignore[operator]
    # The revoked certificate itself points at this CRL.
    dps = revoked.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [gn.value for dp in dps for gn in dp.full_name or ()] == [made.crl_url]
    # The root's CRL covers the issuing CA and revokes nothing.
    root_crl = x509.load_pem_x509_crl(made.root_crl_pem.read_bytes())
    assert root_crl.is_signature_valid(made.root().public_key())  # type: ignore[arg-type]
    assert len(root_crl) == 0


def test_expired_is_expired_at_now(made: DevPki) -> None:
    expired = cert(made.expired.cert)
    assert expired.not_valid_after_utc < NOW
    assert expired.not_valid_before_utc < expired.not_valid_after_utc
    with pytest.raises(xv.VerificationError):
        verify_path(made, expired, NOW)
    # The other certificates are valid at now.
    for entry in (made.axis, made.revoked, *made.agencies):
        c = cert(entry.cert)
        assert c.not_valid_before_utc <= NOW < c.not_valid_after_utc


def test_load_issued_reads_keys_and_refuses_mismatches(made: DevPki) -> None:
    issued = load_issued(made.axis.cert, made.axis.key)
    assert isinstance(issued.key, rsa.RSAPrivateKey)
    assert issued.chain == ()
    server = DevPki.load_issued(made.server.cert, made.server.key)
    assert server.chain == (cert(made.issuing.cert),)
    with pytest.raises(ConfigError) as info:
        load_issued(made.axis.cert, made.server.key)
    assert info.value.code == "pki.key-mismatch"
    with pytest.raises(ConfigError) as info:
        load_issued(made.axis.cert, made.axis.cert)
    assert info.value.code == "pki.bad-key"
    ca = made.issuing_ca()
    assert ca.chain == (made.root(),)


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "pki"
    first = init_dev_pki(target, now=NOW, agencies=[("000.00.00.H36", "UBND tỉnh Lâm Đồng")])
    with pytest.raises(ConfigError) as info:
        init_dev_pki(target, now=NOW)
    assert info.value.code == "pki.exists"
    assert DevPki.load(target) == first  # untouched
    # With overwrite the old files are replaced; keys are still 0600.
    (target / "agencies" / "000.00.00.H36.key").chmod(0o644)
    second = init_dev_pki(
        target, now=NOW, agencies=[("000.01.00.H36", "Sở Nội vụ tỉnh Lâm Đồng")], overwrite=True
    )
    assert second.root_sha256 != first.root_sha256
    assert {p.name for p in (target / "agencies").iterdir()} == {
        "000.01.00.H36.pem",
        "000.01.00.H36.key",
    }
    for key in target.rglob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_bad_agency_lists_are_refused(tmp_path: Path) -> None:
    for agencies, code in (
        ([("000.00.00.H36", "a"), ("000.00.00.H36", "b")], "pki.duplicate-agency"),
        ([(devpki.DEFAULT_AXIS[0], "a")], "pki.duplicate-agency"),
        ([("../evil", "a")], "pki.bad-organ-id"),
        ([("000.00.00.H36/x", "a")], "pki.bad-organ-id"),
    ):
        with pytest.raises(ConfigError) as info:
            init_dev_pki(tmp_path / "x", now=NOW, agencies=agencies)
        assert info.value.code == code
    assert not (tmp_path / "x").exists()


def test_ec_option(tmp_path: Path) -> None:
    made = init_dev_pki(tmp_path / "ec", now=NOW, key_type="ec", agencies=DEFAULT_AGENCIES[:2])
    assert made.key_type == "ec"
    for entry in (made.issuing, made.axis, *made.agencies):
        issued = made.issued(entry)
        assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
    assert isinstance(made.root().public_key(), ec.EllipticCurvePublicKey)
    assert verify_path(made, cert(made.agencies[0].cert), NOW)[-1] == made.root()


def test_add_agency(tmp_path: Path) -> None:
    made = init_dev_pki(tmp_path / "p", now=NOW, agencies=DEFAULT_AGENCIES[:1])
    entry = add_agency(made.directory, "000.04.00.H36", "Sở Y tế tỉnh Lâm Đồng", now=NOW)
    assert stat.S_IMODE(entry.key.stat().st_mode) == 0o600
    again = DevPki.load(made.directory)
    assert again.agency("000.04.00.H36") == entry
    assert verify_path(again, cert(entry.cert), NOW)[-1] == made.root()
    with pytest.raises(ConfigError) as info:
        add_agency(made.directory, "000.04.00.H36", "x", now=NOW)
    assert info.value.code == "pki.exists"
    replaced = add_agency(made.directory, "000.04.00.H36", "Sở Y tế", now=NOW, overwrite=True)
    assert replaced.sha256 != entry.sha256
    assert [a.organ_id for a in DevPki.load(made.directory).agencies].count("000.04.00.H36") == 1


def test_load_of_a_directory_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        DevPki.load(tmp_path)
    assert info.value.code == "pki.no-manifest"
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        DevPki.load(tmp_path)
    assert info.value.code == "pki.bad-manifest"


# ---------------------------------------------------------------------------- CLI


def test_cli_init_prints_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cli"
    status = main(
        [
            "pki",
            "init",
            str(target),
            "--agency",
            "000.00.00.H36=UBND tỉnh Lâm Đồng",
            "--agency",
            "000.00.00.G22=Văn phòng Chính phủ",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    made = DevPki.load(target)
    assert [a.organ_id for a in made.agencies] == ["000.00.00.H36", "000.00.00.G22"]
    for text in (
        "root-ca.pem",
        "agencies/000.00.00.G22.pem",
        "Văn phòng Chính phủ",
        made.root_sha256,
        made.agencies[0].sha256,
        "crl.pem",
        "manifest.json",
    ):
        assert text in out

    assert main(["pki", "init", str(target)]) == 2
    assert "pki.exists" in capsys.readouterr().err
    assert DevPki.load(target) == made

    assert main(["pki", "init", str(target), "--force", "--key-type", "ec"]) == 0
    capsys.readouterr()
    assert DevPki.load(target).key_type == "ec"

    assert main(["pki", "add-agency", str(target), "000.04.00.H36=Sở Y tế tỉnh Lâm Đồng"]) == 0
    assert "000.04.00.H36" in capsys.readouterr().out
    assert main(["pki", "show", str(target)]) == 0
    assert "Sở Y tế tỉnh Lâm Đồng" in capsys.readouterr().out


def test_cli_rejects_malformed_agency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "init", str(tmp_path / "x"), "--agency", "000.00.00.H36"]) == 2
    assert "cli.bad-agency" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
