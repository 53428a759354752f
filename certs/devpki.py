"""The on-disk development PKI: what ``axis pki init DIR`` writes, and how to read it back.

Layout of ``DIR`` (paths relative to it; ``manifest.json`` describes them all)::

    root-ca.pem                 dev root CA (trust anchor of a dev deployment)
    root-crl.pem, root-crl.der  the root's CRL (empty: covers the issuing CA)
    issuing-ca.pem/.key         dev issuing CA, kept so more certificates can be issued
    ca-chain.pem                issuing CA then root
    axis.pem/.key               the axis's own signing certificate (UID = its OrganId)
    server.pem/.key             TLS server certificate for localhost / 127.0.0.1
                                (server.pem holds the certificate then the issuing CA)
    client.pem/.key             a TLS client certificate for an mTLS caller
    agencies/<OrganId>.pem/.key one signing certificate per agency
    revoked.pem/.key            a signing certificate listed in crl.pem
    expired.pem/.key            a signing certificate already expired at ``now``
    crl.pem, crl.der            the issuing CA's CRL, listing the revoked certificate
    manifest.json               paths, OrganIds, serials, SHA-256 fingerprints

Private keys are PKCS#8 PEM, unencrypted (development only), created with mode 0600 by
``os.open`` (never widened and then narrowed). The manifest is written last: a directory
without it is an unfinished PKI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from axis_errors import ConfigError
from certs import pki
from certs.pki import BACKDATE, Issued, KeyType

__all__ = [
    "DEFAULT_AGENCIES",
    "DEFAULT_AXIS",
    "DEFAULT_REVOCATION_BASE_URL",
    "MANIFEST_FORMAT",
    "CertFiles",
    "DevPki",
    "add_agency",
    "init_dev_pki",
    "load_issued",
]

#: Agencies of Lâm Đồng (H36) on each tier, plus one ministry (G22).
DEFAULT_AGENCIES: Final[tuple[tuple[str, str], ...]] = (
    ("000.00.00.H36", "UBND tỉnh Lâm Đồng"),
    ("000.01.00.H36", "Sở Nội vụ tỉnh Lâm Đồng"),
    ("000.02.00.H36", "Sở Tài chính tỉnh Lâm Đồng"),
    ("000.03.00.H36", "Sở Khoa học và Công nghệ tỉnh Lâm Đồng"),
    ("000.30.00.H36", "UBND thành phố Đà Lạt"),
    ("000.01.30.H36", "UBND Phường 1, thành phố Đà Lạt"),
    ("000.00.00.G22", "Văn phòng Chính phủ"),
)

#: The axis's own identity in the development PKI (OrganId, name).
DEFAULT_AXIS: Final = ("000.99.00.H36", "Trục liên thông văn bản tỉnh Lâm Đồng")

#: Where the dev CRLs are said to be published (``<base>/issuing-ca.crl``,
#: ``<base>/root-ca.crl``). Nothing fetches them unless a test or the demo serves them.
DEFAULT_REVOCATION_BASE_URL: Final = "http://127.0.0.1:8079/pki"

MANIFEST_FORMAT: Final = "axis-dev-pki/1"

_REVOKED = ("000.98.00.H36", "Sở Thử nghiệm (chứng thư đã thu hồi)")
_EXPIRED = ("000.97.00.H36", "Sở Thử nghiệm (chứng thư hết hạn)")


@dataclass(frozen=True)
class CertFiles:
    """A certificate and its key on disk, as described by the manifest."""

    cert: Path
    key: Path
    sha256: str
    serial: int
    organ_id: str | None = None
    name: str | None = None

    def _manifest(self, base: Path) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cert": self.cert.relative_to(base).as_posix(),
            "key": self.key.relative_to(base).as_posix(),
            "sha256": self.sha256,
            "serial": self.serial,
        }
        if self.organ_id is not None:
            out["organ_id"] = self.organ_id
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def _from_manifest(cls, base: Path, entry: dict[str, Any]) -> CertFiles:
        return cls(
            cert=base / entry["cert"],
            key=base / entry["key"],
            sha256=str(entry["sha256"]),
            serial=int(entry["serial"]),
            organ_id=entry.get("organ_id"),
            name=entry.get("name"),
        )


@dataclass(frozen=True)
class DevPki:
    """Paths (absolute) and identities of a development PKI directory."""

    directory: Path
    manifest: Path
    root_cert: Path
    root_sha256: str
    root_crl_pem: Path
    root_crl_der: Path
    issuing: CertFiles
    ca_chain: Path
    axis: CertFiles
    server: CertFiles
    client: CertFiles
    agencies: tuple[CertFiles, ...]
    revoked: CertFiles
    expired: CertFiles
    crl_pem: Path
    crl_der: Path
    crl_url: str
    root_crl_url: str
    key_type: KeyType

    # --------------------------------------------------------------------- reading

    @classmethod
    def load(cls, directory: Path) -> DevPki:
        """Read ``directory/manifest.json`` (written by :func:`init_dev_pki`)."""
        base = Path(directory).resolve()
        path = base / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"{path} does not exist: {base} is not a development PKI (run `axis pki init`).",
                code="pki.no-manifest",
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"The development PKI manifest {path} cannot be read: {exc}.",
                code="pki.bad-manifest",
            ) from exc
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ConfigError(
                f"The manifest {path} is not of format {MANIFEST_FORMAT!r}.",
                code="pki.bad-manifest",
            )
        try:
            return cls(
                directory=base,
                manifest=path,
                root_cert=base / data["root"]["cert"],
                root_sha256=str(data["root"]["sha256"]),
                root_crl_pem=base / data["root"]["crl_pem"],
                root_crl_der=base / data["root"]["crl_der"],
                issuing=CertFiles._from_manifest(base, data["issuing_ca"]),
                ca_chain=base / data["ca_chain"],
                axis=CertFiles._from_manifest(base, data["axis"]),
                server=CertFiles._from_manifest(base, data["server"]),
                client=CertFiles._from_manifest(base, data["client"]),
                agencies=tuple(CertFiles._from_manifest(base, a) for a in data["agencies"]),
                revoked=CertFiles._from_manifest(base, data["revoked"]),
                expired=CertFiles._from_manifest(base, data["expired"]),
                crl_pem=base / data["crl"]["pem"],
                crl_der=base / data["crl"]["der"],
                crl_url=str(data["crl"]["url"]),
                root_crl_url=str(data["root"]["crl_url"]),
                key_type=data["key_type"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"The manifest {path} lacks or garbles the field {exc}.",
                code="pki.bad-manifest",
            ) from exc

    @staticmethod
    def load_issued(cert_path: Path, key_path: Path) -> Issued:
        """See the module function :func:`load_issued`."""
        return load_issued(cert_path, key_path)

    def agency(self, organ_id: str) -> CertFiles:
        """The agency certificate for ``organ_id`` (``pki.unknown-agency`` otherwise)."""
        for entry in self.agencies:
            if entry.organ_id == organ_id:
                return entry
        raise ConfigError(
            f"The development PKI has no certificate for agency {organ_id!r}.",
            code="pki.unknown-agency",
        )

    def root(self) -> x509.Certificate:
        """The dev root certificate (the trust anchor)."""
        return _read_certs(self.root_cert)[0]

    def issuing_ca(self) -> Issued:
        """The issuing CA with its key, ready to issue more certificates."""
        return load_issued(self.issuing.cert, self.issuing.key, chain=(self.root(),))

    def issued(self, entry: CertFiles) -> Issued:
        """``entry`` loaded with its key and the chain issuing CA, root."""
        return load_issued(
            entry.cert, entry.key, chain=(_read_certs(self.issuing.cert)[0], self.root())
        )

    def crl(self) -> x509.CertificateRevocationList:
        """The issuing CA's CRL."""
        return x509.load_pem_x509_crl(self.crl_pem.read_bytes())


def load_issued(
    cert_path: Path, key_path: Path, *, chain: Sequence[x509.Certificate] | None = None
) -> Issued:
    """Read a certificate (PEM; further certificates in the file are its chain) and its
    private key (PEM, unencrypted). ``chain`` replaces the chain read from the file."""
    certs = _read_certs(cert_path)
    try:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"The key file {key_path} cannot be read: {exc}.", code="pki.io") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"The key file {key_path} is not an unencrypted PEM private key.",
            code="pki.bad-key",
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"The key in {key_path} is neither RSA nor EC.", code="pki.bad-key")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != certs[0].public_key().public_bytes(*spki):
        raise ConfigError(
            f"The key {key_path} does not belong to the certificate {cert_path}.",
            code="pki.key-mismatch",
        )
    return Issued(
        cert=certs[0], key=key, chain=tuple(chain) if chain is not None else tuple(certs[1:])
    )


def _read_certs(path: Path) -> list[x509.Certificate]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"The certificate file {path} cannot be read: {exc}.", code="pki.io"
        ) from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(
            f"The file {path} holds no PEM certificate.", code="pki.bad-cert"
        ) from exc
    return certs


# ------------------------------------------------------------------------- writing


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (an old file is removed first)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _save(base: Path, stem: str, issued: Issued, *, with_chain: bool = False) -> CertFiles:
    cert_path = base / f"{stem}.pem"
    key_path = base / f"{stem}.key"
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_public(cert_path, issued.cert_pem() + (_first(issued) if with_chain else b""))
    _write_private(key_path, issued.key_pem())
    return CertFiles(
        cert=cert_path,
        key=key_path,
        sha256=issued.fingerprint,
        serial=issued.cert.serial_number,
        organ_id=issued.organ_id,
        name=_cn(issued.cert),
    )


def _first(issued: Issued) -> bytes:
    """The nearest issuer's certificate, PEM (what a TLS server sends after its own)."""
    return issued.chain[0].public_bytes(serialization.Encoding.PEM) if issued.chain else b""


def _cn(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8")


def _existing(directory: Path) -> list[Path]:
    names = ("manifest.json", "root-ca.pem", "issuing-ca.pem", "issuing-ca.key", "crl.pem")
    found = [directory / n for n in names if (directory / n).exists()]
    agencies = directory / "agencies"
    if agencies.is_dir():
        found += sorted(agencies.iterdir())
    return found


def init_dev_pki(
    directory: Path,
    *,
    now: dt.datetime,
    agencies: Sequence[tuple[str, str]] = DEFAULT_AGENCIES,
    axis: tuple[str, str] = DEFAULT_AXIS,
    key_type: KeyType = "rsa",
    revocation_base_url: str = DEFAULT_REVOCATION_BASE_URL,
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    overwrite: bool = False,
) -> DevPki:
    """Create a development PKI in ``directory`` as of ``now`` (tz-aware UTC).

    Refuses (``ConfigError`` ``pki.exists``) when ``directory`` already holds a PKI,
    unless ``overwrite``; then the old agency files are removed first. RSA keys are
    3072 bits for the CAs and 2048 for the rest; EC keys are P-256.
    """
    if now.tzinfo is None:
        raise ConfigError("init_dev_pki needs a timezone-aware now.", code="pki.naive-datetime")
    base = Path(directory).resolve()
    organ_ids = [code for code, _ in agencies]
    reserved = {axis[0], _REVOKED[0], _EXPIRED[0]}
    if len(set(organ_ids)) != len(organ_ids) or reserved & set(organ_ids):
        raise ConfigError(
            "Agency OrganIds must be distinct and differ from the axis's "
            f"and the test certificates' ({sorted(reserved)}).",
            code="pki.duplicate-agency",
        )
    for code in organ_ids:
        _check_organ_id(code)
    existing = _existing(base) if base.exists() else []
    if existing and not overwrite:
        raise ConfigError(
            f"{base} already holds a PKI ({existing[0].name}); pass --force to replace it.",
            code="pki.exists",
        )
    base.mkdir(parents=True, exist_ok=True)
    # The manifest goes first and comes back last: a run cut short leaves no manifest.
    (base / "manifest.json").unlink(missing_ok=True)
    if overwrite and (base / "agencies").is_dir():
        for old in (base / "agencies").iterdir():
            if old.suffix in {".pem", ".key"}:
                old.unlink()

    crl_url = f"{revocation_base_url.rstrip('/')}/issuing-ca.crl"
    root_crl_url = f"{revocation_base_url.rstrip('/')}/root-ca.crl"
    ca_size = 3072 if key_type == "rsa" else 256
    leaf_size = 2048 if key_type == "rsa" else 256

    root = pki.make_root_ca(
        "Axis Development Root CA",
        now=now,
        organization="Axis development PKI (NOT FOR PRODUCTION)",
        key_type=key_type,
        key_size=ca_size,
    )
    issuing = pki.make_issuing_ca(
        root,
        "Axis Development Issuing CA",
        now=now,
        organization="Axis development PKI (NOT FOR PRODUCTION)",
        crl_url=root_crl_url,
        key_type=key_type,
        key_size=ca_size,
    )

    def signing(organ_id: str, name: str, **kw: Any) -> Issued:
        return pki.issue_signing_cert(
            issuing,
            organ_id=organ_id,
            name=name,
            now=now,
            key_type=key_type,
            key_size=leaf_size,
            crl_url=crl_url,
            ocsp_url=None,
            **kw,
        )

    _write_public(base / "root-ca.pem", root.cert_pem())
    issuing_files = _save(base, "issuing-ca", issuing)
    _write_public(base / "ca-chain.pem", issuing.cert_pem() + root.cert_pem())

    axis_files = _save(base, "axis", signing(*axis))
    server_files = _save(
        base,
        "server",
        pki.issue_server_cert(
            issuing, now=now, hostnames=hostnames, ips=ips, key_type=key_type, key_size=leaf_size
        ),
        with_chain=True,
    )
    client_files = _save(
        base,
        "client",
        pki.issue_client_cert(
            issuing,
            system_id="axis-dev-client",
            now=now,
            key_type=key_type,
            key_size=leaf_size,
        ),
    )
    agency_files = tuple(
        _save(base, f"agencies/{code}", signing(code, name)) for code, name in agencies
    )
    revoked = signing(*_REVOKED, not_before=now - dt.timedelta(days=30))
    revoked_files = _save(base, "revoked", revoked)
    expired_files = _save(
        base,
        "expired",
        signing(
            *_EXPIRED,
            not_before=now - dt.timedelta(days=731),
            not_after=now - dt.timedelta(days=1),
        ),
    )

    revoked_at = now - dt.timedelta(days=1)
    crl = pki.make_crl(
        issuing,
        [(revoked.cert.serial_number, revoked_at, x509.ReasonFlags.key_compromise)],
        this_update=now - BACKDATE,
        next_update=now + dt.timedelta(days=30),
        crl_number=1,
    )
    _write_public(base / "crl.pem", crl.public_bytes(serialization.Encoding.PEM))
    _write_public(base / "crl.der", crl.public_bytes(serialization.Encoding.DER))
    root_crl = pki.make_crl(
        root, [], this_update=now - BACKDATE, next_update=now + dt.timedelta(days=365)
    )
    _write_public(base / "root-crl.pem", root_crl.public_bytes(serialization.Encoding.PEM))
    _write_public(base / "root-crl.der", root_crl.public_bytes(serialization.Encoding.DER))

    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "created": now.astimezone(dt.UTC).isoformat(),
        "key_type": key_type,
        "warning": "Development PKI: keys are unencrypted; never trust it in production.",
        "root": {
            "cert": "root-ca.pem",
            "sha256": root.fingerprint,
            "subject": root.cert.subject.rfc4514_string(),
            "crl_pem": "root-crl.pem",
            "crl_der": "root-crl.der",
            "crl_url": root_crl_url,
        },
        "issuing_ca": {
            **issuing_files._manifest(base),
            "subject": issuing.cert.subject.rfc4514_string(),
        },
        "ca_chain": "ca-chain.pem",
        "axis": axis_files._manifest(base),
        "server": {**server_files._manifest(base), "hostnames": list(hostnames), "ips": list(ips)},
        "client": {**client_files._manifest(base), "system_id": "axis-dev-client"},
        "agencies": [a._manifest(base) for a in agency_files],
        "revoked": {**revoked_files._manifest(base), "revoked_at": revoked_at.isoformat()},
        "expired": {
            **expired_files._manifest(base),
            "not_after": (now - dt.timedelta(days=1)).isoformat(),
        },
        "crl": {
            "pem": "crl.pem",
            "der": "crl.der",
            "url": crl_url,
            "revoked_serials": [revoked.cert.serial_number],
            "next_update": (now + dt.timedelta(days=30)).isoformat(),
        },
    }
    _write_public(
        base / "manifest.json",
        (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
    )
    return DevPki.load(base)


def add_agency(
    directory: Path,
    organ_id: str,
    name: str,
    *,
    now: dt.datetime,
    overwrite: bool = False,
) -> CertFiles:
    """Issue a signing certificate for one more agency with the dev issuing CA, write
    ``agencies/<organ_id>.pem/.key`` and record it in the manifest.

    Refuses (``pki.exists``) an OrganId that already has a certificate, unless
    ``overwrite``.
    """
    devpki = DevPki.load(directory)
    _check_organ_id(organ_id)
    known = {a.organ_id for a in devpki.agencies}
    if organ_id in known and not overwrite:
        raise ConfigError(
            f"The development PKI already has a certificate for {organ_id!r}; "
            "pass --force to replace it.",
            code="pki.exists",
        )
    if organ_id in {devpki.axis.organ_id, devpki.revoked.organ_id, devpki.expired.organ_id}:
        raise ConfigError(
            f"The OrganId {organ_id!r} belongs to the axis or a test certificate.",
            code="pki.duplicate-agency",
        )
    issuing = devpki.issuing_ca()
    issued = pki.issue_signing_cert(
        issuing,
        organ_id=organ_id,
        name=name,
        now=now,
        key_type=devpki.key_type,
        key_size=2048 if devpki.key_type == "rsa" else 256,
        crl_url=devpki.crl_url,
        ocsp_url=None,
    )
    files = _save(devpki.directory, f"agencies/{organ_id}", issued)
    data = json.loads(devpki.manifest.read_text(encoding="utf-8"))
    entries = [a for a in data["agencies"] if a.get("organ_id") != organ_id]
    entries.append(files._manifest(devpki.directory))
    data["agencies"] = entries
    _write_public(
        devpki.manifest, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    )
    return files


def _check_organ_id(code: str) -> None:
    """An OrganId becomes a file name: digits, letters and dots only (Decision 20/2020)."""
    if (
        not code
        or len(code) > 35
        or code.startswith(".")
        or not all(ch.isascii() and (ch.isalnum() or ch == ".") for ch in code)
    ):
        raise ConfigError(
            f"The OrganId {code!r} is not up to 35 ASCII letters, digits and dots.",
            code="pki.bad-organ-id",
        )
