"""The in-memory CA of ``certs.pki``: chains, extensions, bad certificates on purpose,
CRLs, OCSP responses, and the government-like chain compared with the real G2 CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509 import verification as xv
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    SignatureAlgorithmOID,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from axis_errors import ConfigError
from certs import pki
from certs.pki import Issued

E = TypeVar("E", bound=x509.ExtensionType)

NOW = dt.datetime(2025, 9, 1, 8, 30, tzinfo=dt.UTC)
CRL_URL = "http://127.0.0.1:8079/pki/issuing-ca.crl"
OCSP_URL = "http://127.0.0.1:8079/ocsp"


@pytest.fixture(scope="module")
def root() -> Issued:
    return pki.make_root_ca("Test Root", now=NOW)


@pytest.fixture(scope="module")
def ca(root: Issued) -> Issued:
    return pki.make_issuing_ca(
        root,
        "Test Issuing CA",
        now=NOW,
        crl_url=CRL_URL,
        ocsp_url=OCSP_URL,
        policy_oid=pki.GOV_POLICY_OID,
        key_size=2048,
    )


@pytest.fixture(scope="module")
def agency(ca: Issued) -> Issued:
    return pki.issue_signing_cert(ca, organ_id="000.00.00.H36", name="UBND tỉnh Lâm Đồng", now=NOW)


@pytest.fixture(scope="module")
def spare_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def has_ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return False
    return True


def client_policy(anchor: x509.Certificate, at: dt.datetime) -> xv.ClientVerifier:
    """cryptography's web-PKI path builder, with any extensions allowed on the leaf
    (a document-signing certificate has no subjectAltName)."""
    return (
        xv.PolicyBuilder()
        .store(xv.Store([anchor]))
        .time(at)
        .extension_policies(
            ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=xv.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )


# ----------------------------------------------------------------- chain relations


def test_root_is_self_signed_ca_with_ski_equal_aki(root: Issued) -> None:
    cert = root.cert
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert root.chain == ()
    assert root.root is cert
    assert isinstance(root.key, rsa.RSAPrivateKey) and root.key.key_size == 3072


def test_issuing_ca_extensions(root: Issued, ca: Issued) -> None:
    cert = ca.cert
    assert cert.issuer == root.cert.subject
    cert.verify_directly_issued_by(root.cert)
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert (
        ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
        == ext(root.cert, x509.SubjectKeyIdentifier).value.digest
    )
    dps = ext(cert, x509.CRLDistributionPoints).value
    assert [gn.value for dp in dps for gn in dp.full_name or ()] == [CRL_URL]
    aia = ext(cert, x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, OCSP_URL)
    ]
    policies = ext(cert, x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [pki.GOV_POLICY_OID]
    assert ca.chain == (root.cert,)


def test_signing_cert_subject_names_the_agency(ca: Issued, root: Issued, agency: Issued) -> None:
    cert = agency.cert
    cert.verify_directly_issued_by(ca.cert)
    assert cert.issuer == ca.cert.subject
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {
        NameOID.COUNTRY_NAME: "VN",
        NameOID.ORGANIZATION_NAME: "UBND tỉnh Lâm Đồng",
        NameOID.COMMON_NAME: "UBND tỉnh Lâm Đồng",
        NameOID.USER_ID: "000.00.00.H36",
    }
    assert agency.organ_id == pki.organ_id_of(cert) == "000.00.00.H36"
    assert agency.chain == (ca.cert, root.cert)
    assert agency.root == root.cert
    assert (
        ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
        == ext(ca.cert, x509.SubjectKeyIdentifier).value.digest
    )
    assert ext(cert, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        agency.key.public_key()
    )


def test_signing_cert_defaults(ca: Issued, agency: Issued) -> None:
    cert = agency.cert
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not (ku.value.key_encipherment or ku.value.key_cert_sign or ku.value.crl_sign)
    assert not has_ext(cert, x509.ExtendedKeyUsage)
    # Revocation pointers and policy copied from the issuing CA.
    assert (
        ext(cert, x509.CRLDistributionPoints).value
        == ext(ca.cert, x509.CRLDistributionPoints).value
    )
    aia = ext(cert, x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [OCSP_URL]
    assert [
        p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies).value
    ] == [pki.GOV_POLICY_OID]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    assert isinstance(agency.key, rsa.RSAPrivateKey) and agency.key.key_size == 2048
    assert cert.not_valid_before_utc == (NOW - pki.BACKDATE).replace(microsecond=0)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=730)


def test_revocation_pointers_can_be_replaced_or_omitted(
    ca: Issued, spare_key: rsa.RSAPrivateKey
) -> None:
    other = pki.issue_signing_cert(
        ca, organ_id="1", name="x", now=NOW, crl_url="http://other/crl", key=spare_key
    )
    dps = ext(other.cert, x509.CRLDistributionPoints).value
    assert [gn.value for dp in dps for gn in dp.full_name or ()] == ["http://other/crl"]
    bare = pki.issue_signing_cert(
        ca,
        organ_id="1",
        name="x",
        now=NOW,
        crl_url=None,
        ocsp_url=None,
        policy_oid=None,
        key=spare_key,
    )
    for kind in (
        x509.CRLDistributionPoints,
        x509.AuthorityInformationAccess,
        x509.CertificatePolicies,
    ):
        assert not has_ext(bare.cert, kind)


def test_document_signing_eku(ca: Issued, spare_key: rsa.RSAPrivateKey) -> None:
    issued = pki.issue_signing_cert(
        ca, organ_id="1", name="x", now=NOW, eku=(pki.DOCUMENT_SIGNING_EKU,), key=spare_key
    )
    assert list(ext(issued.cert, x509.ExtendedKeyUsage).value) == [
        x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
    ]


def test_pem_helpers_round_trip(root: Issued, ca: Issued, agency: Issued) -> None:
    assert x509.load_pem_x509_certificate(agency.cert_pem()) == agency.cert
    assert agency.key_pem().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, clear
    key = serialization.load_pem_private_key(agency.key_pem(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == agency.key.private_numbers()
    assert x509.load_pem_x509_certificates(agency.chain_pem()) == [ca.cert, root.cert]
    assert x509.load_pem_x509_certificates(agency.fullchain_pem()) == [
        agency.cert,
        ca.cert,
        root.cert,
    ]
    assert root.chain_pem() == b""
    assert agency.fingerprint == agency.cert.fingerprint(hashes.SHA256()).hex(":").upper()


def test_long_names_are_cut_to_64_bytes_in_cn_only(
    ca: Issued, spare_key: rsa.RSAPrivateKey
) -> None:
    name = "Ban Quản lý các khu công nghiệp tỉnh Lâm Đồng và các khu kinh tế cửa khẩu"
    assert len(name) > 64
    cert = pki.issue_signing_cert(
        ca, organ_id="000.40.00.H36", name=name, now=NOW, key=spare_key
    ).cert
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == name
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str)
    assert name.startswith(cn) and len(cn.encode()) <= 64 < len((name[: len(cn) + 1]).encode())


# ------------------------------------------------------------------------- times


def test_naive_or_inverted_times_are_refused(ca: Issued) -> None:
    with pytest.raises(ConfigError) as info:
        pki.make_root_ca("x", now=dt.datetime(2025, 1, 1), key_size=2048)
    assert info.value.code == "pki.naive-datetime"
    with pytest.raises(ConfigError) as info:
        pki.issue_signing_cert(
            ca, organ_id="1", name="x", now=NOW, not_before=NOW, not_after=NOW - dt.timedelta(1)
        )
    assert info.value.code == "pki.validity"


def test_explicit_validity_bounds(ca: Issued, spare_key: rsa.RSAPrivateKey) -> None:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    cert = pki.issue_signing_cert(
        ca, organ_id="1", name="x", now=NOW, not_before=start, not_after=end, key=spare_key
    ).cert
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, end)


# ---------------------------------------------------------- bad certs on purpose


def test_wrong_key_usage_and_ca_flag_on_leaf(ca: Issued, spare_key: rsa.RSAPrivateKey) -> None:
    enc = pki.issue_signing_cert(
        ca,
        organ_id="1",
        name="x",
        now=NOW,
        key_usage=frozenset({"key_encipherment"}),
        key=spare_key,
    ).cert
    ku = ext(enc, x509.KeyUsage).value
    assert ku.key_encipherment and not ku.digital_signature and not ku.content_commitment
    flagged = pki.issue_signing_cert(
        ca, organ_id="1", name="x", now=NOW, ca_flag=True, key=spare_key
    )
    assert ext(flagged.cert, x509.BasicConstraints).value.ca
    without = pki.issue_signing_cert(
        ca, organ_id="1", name="x", now=NOW, key_usage=None, key=spare_key
    )
    assert not has_ext(without.cert, x509.KeyUsage)
    with pytest.raises(ConfigError) as info:
        pki.issue_signing_cert(ca, organ_id="1", name="x", now=NOW, key_usage=frozenset({"sign"}))
    assert info.value.code == "pki.key-usage"


def test_rsa_1024_leaf(ca: Issued) -> None:
    weak = pki.issue_signing_cert(ca, organ_id="1", name="x", now=NOW, key_size=1024)
    assert isinstance(weak.key, rsa.RSAPrivateKey) and weak.key.key_size == 1024
    weak.cert.verify_directly_issued_by(ca.cert)


def test_sha1_signed_leaf_is_a_real_sha1_signature(
    ca: Issued, spare_key: rsa.RSAPrivateKey
) -> None:
    # cryptography refuses SHA-1 in CertificateBuilder; certs.pki re-signs the DER.
    cert = pki.issue_signing_cert(
        ca, organ_id="000.00.00.H36", name="x", now=NOW, hash=hashes.SHA1(), key=spare_key
    ).cert
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA1
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    ca_key = ca.cert.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    ca_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(InvalidSignature):
        ca_key.verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256()
        )
    # Everything else survived the re-encoding.
    assert pki.organ_id_of(cert) == "000.00.00.H36"
    assert ext(cert, x509.KeyUsage).value.content_commitment
    assert cert.public_key() == spare_key.public_key()


def test_sha1_signed_ec_leaf() -> None:
    root = pki.make_root_ca("EC root", now=NOW, key_type="ec")
    cert = pki.issue_signing_cert(
        root, organ_id="1", name="x", now=NOW, key_type="ec", hash=hashes.SHA1()
    ).cert
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA1
    root_key = root.cert.public_key()
    assert isinstance(root_key, ec.EllipticCurvePublicKey)
    root_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))


# ---------------------------------------------------------------------------- EC


def test_ec_chain() -> None:
    root = pki.make_root_ca("EC root", now=NOW, key_type="ec")
    ca = pki.make_issuing_ca(root, "EC CA", now=NOW, key_type="ec", key_size=384)
    leaf = pki.issue_signing_cert(
        ca, organ_id="000.00.00.G22", name="Văn phòng Chính phủ", now=NOW, key_type="ec"
    )
    assert isinstance(root.key, ec.EllipticCurvePrivateKey) and root.key.curve.name == "secp256r1"
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey) and ca.key.curve.name == "secp384r1"
    assert ca.cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    # A P-384 issuer signs with SHA-384.
    assert leaf.cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384
    leaf.cert.verify_directly_issued_by(ca.cert)
    ca.cert.verify_directly_issued_by(root.cert)
    assert len(client_policy(root.cert, NOW).verify(leaf.cert, [ca.cert]).chain) == 3
    with pytest.raises(ConfigError) as info:
        pki.generate_key("ec", 255)
    assert info.value.code == "pki.key-size"


# ------------------------------------------------------------------ path building


def test_cryptography_builds_a_path_to_the_root(root: Issued, ca: Issued, agency: Issued) -> None:
    chain = client_policy(root.cert, NOW).verify(agency.cert, [ca.cert]).chain
    assert chain == [agency.cert, ca.cert, root.cert]


def test_path_building_fails_past_expiry_and_with_another_root(
    root: Issued, ca: Issued, agency: Issued
) -> None:
    later = agency.cert.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(xv.VerificationError):
        client_policy(root.cert, later).verify(agency.cert, [ca.cert])
    stranger = pki.make_root_ca("Stranger", now=NOW, key_size=2048)
    with pytest.raises(xv.VerificationError):
        client_policy(stranger.cert, NOW).verify(agency.cert, [ca.cert])


def test_server_and_client_certs(root: Issued, ca: Issued) -> None:
    server = pki.issue_server_cert(ca, now=NOW, hostnames=("localhost", "axis.test"))
    san = ext(server.cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "axis.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert list(ext(server.cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    builder = xv.PolicyBuilder().store(xv.Store([root.cert])).time(NOW)
    for name in (
        x509.DNSName("axis.test"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ):
        assert len(builder.build_server_verifier(name).verify(server.cert, [ca.cert])) == 3
    with pytest.raises(xv.VerificationError):
        builder.build_server_verifier(x509.DNSName("example.org")).verify(server.cert, [ca.cert])

    client = pki.issue_client_cert(ca, system_id="qlvb-h36", now=NOW, organ_id="000.00.00.H36")
    assert list(ext(client.cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "qlvb-h36"
    assert client.organ_id == "000.00.00.H36"
    verified = builder.build_client_verifier().verify(client.cert, [ca.cert])
    assert verified.chain[-1] == root.cert
    # The server certificate is no client certificate.
    with pytest.raises(xv.VerificationError):
        builder.build_client_verifier().verify(server.cert, [ca.cert])


# ------------------------------------------------------------------- revocation


def test_crl_lists_serials_and_is_signed_by_the_ca(
    root: Issued, ca: Issued, agency: Issued
) -> None:
    when = NOW - dt.timedelta(days=2)
    crl = pki.make_crl(
        ca,
        [(agency.cert.serial_number, when, x509.ReasonFlags.key_compromise), (12345, when, None)],
        this_update=NOW,
        next_update=NOW + dt.timedelta(days=7),
        crl_number=42,
    )
    assert crl.issuer == ca.cert.subject
    assert crl.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
    assert not crl.is_signature_valid(root.cert.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(agency.cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == when
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    plain = crl.get_revoked_certificate_by_serial_number(12345)
    assert plain is not None and len(plain.extensions) == 0
    assert crl.get_revoked_certificate_by_serial_number(ca.cert.serial_number) is None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert (
        crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        == ext(ca.cert, x509.SubjectKeyIdentifier).value.digest
    )
    assert crl.last_update_utc == NOW and crl.next_update_utc == NOW + dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("good", ocsp.OCSPCertStatus.GOOD),
        ("revoked", ocsp.OCSPCertStatus.REVOKED),
        ("unknown", ocsp.OCSPCertStatus.UNKNOWN),
    ],
)
def test_ocsp_response(
    ca: Issued, agency: Issued, status: str, expected: ocsp.OCSPCertStatus
) -> None:
    revoked_at = NOW - dt.timedelta(hours=3)
    resp = pki.make_ocsp_response(
        ca,
        agency.cert,
        status,  # type: ignore[arg-type]
        this_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        revocation_time=revoked_at,
        revocation_reason=x509.ReasonFlags.superseded,
    )
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == expected
    assert resp.serial_number == agency.cert.serial_number
    assert resp.this_update_utc == NOW
    assert (
        resp.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(ca.cert.public_key()).digest
    )
    request = ocsp.OCSPRequestBuilder().add_certificate(agency.cert, ca.cert, hashes.SHA1()).build()
    assert resp.issuer_key_hash == request.issuer_key_hash
    assert resp.issuer_name_hash == request.issuer_name_hash
    ca_key = ca.cert.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    ca_key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())
    if status == "revoked":
        assert resp.revocation_time_utc == revoked_at
        assert resp.revocation_reason == x509.ReasonFlags.superseded
    else:
        assert resp.revocation_time_utc is None
    again = ocsp.load_der_ocsp_response(resp.public_bytes(serialization.Encoding.DER))
    assert again.certificate_status == expected


def test_revoked_ocsp_response_needs_a_time(ca: Issued, agency: Issued) -> None:
    with pytest.raises(ConfigError) as info:
        pki.make_ocsp_response(ca, agency.cert, "revoked", this_update=NOW, next_update=None)
    assert info.value.code == "pki.ocsp-revocation"


# -------------------------------------------------------------- government-like


@pytest.fixture(scope="module")
def gov_chain() -> tuple[Issued, Issued]:
    return pki.gov_like_chain(NOW)


@pytest.fixture(scope="module")
def real_g2(shared_dir: Path) -> tuple[x509.Certificate, x509.Certificate]:
    trust = shared_dir / "trust"
    return (
        x509.load_pem_x509_certificate((trust / "vgca-rootcag2.pem").read_bytes()),
        x509.load_pem_x509_certificate((trust / "vgca-cpcag2.pem").read_bytes()),
    )


def _shape(cert: x509.Certificate) -> dict[str, object]:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return {
        "extensions": {(e.oid, e.critical) for e in cert.extensions},
        "key_size": key.key_size,
        "signature": cert.signature_algorithm_oid,
        "subject_attrs": [a.oid for a in cert.subject],
        "version": cert.version,
    }


def test_gov_like_chain_has_the_shape_of_the_real_g2(
    gov_chain: tuple[Issued, Issued], real_g2: tuple[x509.Certificate, x509.Certificate]
) -> None:
    root, issuing = gov_chain
    real_root, real_issuing = real_g2
    assert _shape(root.cert) == _shape(real_root)
    assert _shape(issuing.cert) == _shape(real_issuing)
    for mine, real in ((root.cert, real_root), (issuing.cert, real_issuing)):
        assert ext(mine, x509.BasicConstraints).value == ext(real, x509.BasicConstraints).value
        assert ext(mine, x509.KeyUsage).value == ext(real, x509.KeyUsage).value
        assert mine.subject != real.subject  # a test chain, never confusable
        assert "TEST" in mine.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert [d.access_method for d in ext(issuing.cert, x509.AuthorityInformationAccess).value] == [
        d.access_method for d in ext(real_issuing, x509.AuthorityInformationAccess).value
    ]
    mine_pol = ext(issuing.cert, x509.CertificatePolicies).value
    real_pol = ext(real_issuing, x509.CertificatePolicies).value
    assert [p.policy_identifier for p in mine_pol] == [p.policy_identifier for p in real_pol]
    assert [p.policy_identifier.dotted_string for p in mine_pol] == ["2.16.704.1.1.1.1.1"]
    assert [len(p.policy_qualifiers or ()) for p in mine_pol] == [
        len(p.policy_qualifiers or ()) for p in real_pol
    ]
    urls = [
        gn.value
        for dp in ext(issuing.cert, x509.CRLDistributionPoints).value
        for gn in dp.full_name or ()
    ]
    assert urls == [pki.GOV_LIKE_CRL_URL]
    assert all(".test" in u for u in (pki.GOV_LIKE_CRL_URL, pki.GOV_LIKE_OCSP_URL))


def test_paths_build_through_the_gov_like_chain(gov_chain: tuple[Issued, Issued]) -> None:
    root, issuing = gov_chain
    leaf = pki.issue_signing_cert(
        issuing,
        organ_id="000.00.00.H36",
        name="UBND tỉnh Lâm Đồng",
        now=NOW,
        crl_url=pki.GOV_LIKE_LEAF_CRL_URL,
    )
    assert client_policy(root.cert, NOW).verify(leaf.cert, [issuing.cert]).chain == [
        leaf.cert,
        issuing.cert,
        root.cert,
    ]
    assert [
        p.policy_identifier.dotted_string for p in ext(leaf.cert, x509.CertificatePolicies).value
    ] == [pki.GOV_POLICY_OID]
    # pathlen 0: a CA below the issuing CA cannot anchor a valid path.
    sub = pki.make_issuing_ca(issuing, "Sub CA (TEST)", now=NOW, key_size=2048)
    under_sub = pki.issue_signing_cert(sub, organ_id="1", name="x", now=NOW)
    with pytest.raises(xv.VerificationError):
        client_policy(root.cert, NOW).verify(under_sub.cert, [sub.cert, issuing.cert])


# -------------------------------------------------------------------- properties


@settings(max_examples=25)
@given(
    st.frozensets(st.sampled_from(sorted(pki.KEY_USAGE_NAMES - {"encipher_only", "decipher_only"})))
)
def test_key_usage_is_exactly_what_was_asked(
    ca: Issued, spare_key: rsa.RSAPrivateKey, usage: frozenset[str]
) -> None:
    cert = pki.issue_signing_cert(
        ca, organ_id="1", name="x", now=NOW, key_usage=usage, key=spare_key
    ).cert
    ku = ext(cert, x509.KeyUsage).value
    for name in pki.KEY_USAGE_NAMES - {"encipher_only", "decipher_only"}:
        assert getattr(ku, name) == (name in usage)
