"""Named trust profiles shipped with Axis, pinned by SHA-256 fingerprint.

A profile is a directory of public certificates under ``certs/trust/<name>/`` (package
data, read through ``importlib.resources`` so it works from a wheel too). Every file in
it must be pinned in :data:`PINNED_SHA256`, every pin must have its file, and every
file's fingerprint must equal its pin; otherwise loading raises ``ConfigError``
(``trust.fingerprint-mismatch``, ``trust.unpinned``, ``trust.missing``). A tampered or
silently replaced anchor thus stops the daemon at start rather than changing whom it
trusts.

Profiles:

* ``gov-vn``: the Government Cipher Committee's G2 root and its issuing CA for State
  bodies, and NEAC's Vietnam National Root CA (public CAs). See
  ``certs/trust/gov-vn/README.md``.

Development deployments trust the dev root made by ``axis pki init`` instead, read with
:func:`load_pem_bundle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from axis_errors import ConfigError

__all__ = [
    "PINNED_SHA256",
    "PROFILES",
    "TrustProfile",
    "check_pinned",
    "load_pem_bundle",
    "load_profile",
    "profile_names",
    "split_anchors",
]


@dataclass(frozen=True)
class TrustProfile:
    """A named set of certificates in ``certs/trust/<name>/``."""

    name: str
    description: str
    files: tuple[str, ...]


PROFILES: Final[Mapping[str, TrustProfile]] = {
    "gov-vn": TrustProfile(
        name="gov-vn",
        description=(
            "Vietnam: RootCA chuyên dùng Chính phủ G2 and its issuing CA for State bodies "
            "(Ban Cơ yếu Chính phủ), and the Vietnam National Root CA (NEAC)"
        ),
        files=("vgca-rootcag2.pem", "vgca-cpcag2.pem", "neac-vnrca256.pem"),
    ),
}

#: ``"<profile>/<file>"`` -> SHA-256 fingerprint of the DER certificate, upper-case hex
#: with colons (as ``openssl x509 -fingerprint -sha256`` prints it).
PINNED_SHA256: Final[Mapping[str, str]] = {
    "gov-vn/vgca-rootcag2.pem": (
        "F0:4B:A4:B4:59:A7:C9:A1:B9:71:AD:9B:1C:B8:33:E6:"
        "95:A8:0C:79:AE:A6:3B:17:4B:66:A7:0E:DF:E2:FD:B8"
    ),
    "gov-vn/vgca-cpcag2.pem": (
        "D8:CA:B7:A4:AE:F9:2E:6B:B2:50:9D:7C:61:CE:E7:B4:"
        "4F:37:31:B2:D2:10:74:96:35:30:27:7B:36:6F:AE:4B"
    ),
    "gov-vn/neac-vnrca256.pem": (
        "BA:C8:BF:60:9A:B4:20:A8:EE:17:80:D7:4F:4D:E5:C7:"
        "F7:18:49:59:D2:A7:37:5B:0A:75:E4:C2:9F:09:08:E7"
    ),
}


def profile_names() -> tuple[str, ...]:
    """The names of the shipped profiles."""
    return tuple(PROFILES)


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _normalise(fp: str) -> str:
    return fp.replace(":", "").replace(" ", "").upper()


def _one_cert(label: str, pem: bytes) -> x509.Certificate:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ConfigError(
            f"The trust file {label} holds no readable PEM certificate.",
            code="trust.bad-certificate",
        ) from exc
    if len(certs) != 1:
        raise ConfigError(
            f"The trust file {label} holds {len(certs)} certificates; a pinned file holds one.",
            code="trust.bad-certificate",
        )
    return certs[0]


def check_pinned(
    pems: Mapping[str, bytes], pins: Mapping[str, str], *, order: Iterable[str] = ()
) -> tuple[x509.Certificate, ...]:
    """Check a set of PEM files against their pins and return the certificates.

    ``pems`` maps a label (``"<profile>/<file>"``) to the file's bytes; ``pins`` maps the
    same labels to SHA-256 fingerprints (colons and case are ignored). Every file needs a
    pin (``trust.unpinned``), every pin its file (``trust.missing``), every fingerprint
    must match (``trust.fingerprint-mismatch``). Certificates come back in ``order`` (then
    the rest, sorted by label). Pure: no I/O.
    """
    unpinned = sorted(set(pems) - set(pins))
    if unpinned:
        raise ConfigError(
            f"The trust file {unpinned[0]} has no pinned fingerprint.",
            code="trust.unpinned",
            details={"files": unpinned},
        )
    missing = sorted(set(pins) - set(pems))
    if missing:
        raise ConfigError(
            f"The pinned trust file {missing[0]} is missing.",
            code="trust.missing",
            details={"files": missing},
        )
    ordered = [label for label in order if label in pems]
    ordered += sorted(set(pems) - set(ordered))
    out = []
    for label in ordered:
        cert = _one_cert(label, pems[label])
        actual = _fingerprint(cert)
        if _normalise(actual) != _normalise(pins[label]):
            raise ConfigError(
                f"The trust file {label} has SHA-256 fingerprint {actual}, "
                f"not the pinned {pins[label]}.",
                code="trust.fingerprint-mismatch",
                details={"file": label, "actual": actual, "pinned": pins[label]},
            )
        out.append(cert)
    return tuple(out)


def load_profile(name: str) -> tuple[x509.Certificate, ...]:
    """The certificates of the shipped profile ``name``, fingerprints checked.

    Raises ``ConfigError`` ``trust.unknown-profile`` for a name not in :data:`PROFILES`.
    """
    profile = PROFILES.get(name)
    if profile is None:
        raise ConfigError(
            f"There is no trust profile {name!r}; known: {', '.join(PROFILES)}.",
            code="trust.unknown-profile",
        )
    folder = resources.files("certs").joinpath("trust", name)
    pems: dict[str, bytes] = {}
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_file() and entry.name.endswith(".pem"):
                pems[f"{name}/{entry.name}"] = entry.read_bytes()
    pins = {label: fp for label, fp in PINNED_SHA256.items() if label.startswith(f"{name}/")}
    return check_pinned(pems, pins, order=(f"{name}/{f}" for f in profile.files))


def split_anchors(
    certs: Iterable[x509.Certificate],
) -> tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...]]:
    """Split certificates into (self-issued anchors, intermediates)."""
    anchors: list[x509.Certificate] = []
    intermediates: list[x509.Certificate] = []
    for cert in certs:
        (anchors if cert.subject == cert.issuer else intermediates).append(cert)
    return tuple(anchors), tuple(intermediates)


def load_pem_bundle(path: Path) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM file (a deployment's own anchors, or the dev root)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"The trust file {path} cannot be read: {exc.strerror}.", code="trust.io"
        ) from exc
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise ConfigError(
            f"The trust file {path} holds no readable PEM certificate.",
            code="trust.bad-certificate",
        ) from exc
