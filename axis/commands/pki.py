"""``axis pki``: the development PKI.

* ``axis pki init DIR [--key-type rsa|ec] [--agency CODE=NAME ...] [--hostname H ...]
  [--ip IP ...] [--force]`` writes a development PKI (see ``certs.devpki``) and prints
  what it wrote: paths, OrganIds and SHA-256 fingerprints. An existing PKI is replaced
  only with ``--force``.
* ``axis pki add-agency DIR CODE=NAME [--force]`` issues one more agency certificate
  with the dev issuing CA.
* ``axis pki show DIR`` prints the manifest of an existing development PKI.

These are I/O edges: they read the real clock and pass it into ``certs``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from axis_errors import InputError
from certs.devpki import DEFAULT_AGENCIES, CertFiles, DevPki, add_agency, init_dev_pki


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pki", help="development PKI: root and issuing CA, agency certificates")
    pki_sub = p.add_subparsers(dest="pki_command", metavar="ACTION")
    pki_sub.required = True

    init = pki_sub.add_parser(
        "init",
        help="write a development PKI into DIR",
        description=(
            "Write a development PKI: root and issuing CA, the axis's signing certificate, "
            "a TLS server and client certificate, one signing certificate per agency, a "
            "revoked and an expired one, CRLs and manifest.json. Keys are unencrypted "
            "(mode 0600): for development and tests only."
        ),
    )
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    init.add_argument(
        "--agency",
        action="append",
        default=None,
        metavar="CODE=NAME",
        help="an agency to certify, e.g. '000.00.00.H36=UBND tỉnh Lâm Đồng' "
        "(repeatable; replaces the default Lâm Đồng set)",
    )
    init.add_argument(
        "--hostname",
        action="append",
        default=None,
        help="DNS name of the TLS server certificate (repeatable; default localhost)",
    )
    init.add_argument(
        "--ip",
        action="append",
        default=None,
        help="IP address of the TLS server certificate (repeatable; default 127.0.0.1)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing PKI in DIR")
    init.set_defaults(func=cmd_init)

    add = pki_sub.add_parser("add-agency", help="issue one more agency signing certificate")
    add.add_argument("directory", type=Path, metavar="DIR")
    add.add_argument("agency", metavar="CODE=NAME")
    add.add_argument("--force", action="store_true", help="replace that agency's certificate")
    add.set_defaults(func=cmd_add_agency)

    show = pki_sub.add_parser("show", help="print what a development PKI holds")
    show.add_argument("directory", type=Path, metavar="DIR")
    show.set_defaults(func=cmd_show)


def parse_agency(text: str) -> tuple[str, str]:
    """``"CODE=NAME"`` -> ``(CODE, NAME)``, both stripped and non-empty."""
    code, sep, name = text.partition("=")
    code, name = code.strip(), name.strip()
    if not sep or not code or not name:
        raise InputError(
            f"The agency {text!r} is not of the form CODE=NAME (e.g. 000.00.00.H36=UBND tỉnh).",
            code="cli.bad-agency",
        )
    return code, name


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _line(label: str, entry: CertFiles, base: Path) -> str:
    who = f"{entry.organ_id}  {entry.name}" if entry.organ_id else (entry.name or "")
    return (
        f"  {label:<9} {entry.cert.relative_to(base)} + {entry.key.relative_to(base).name}"
        f"  {who}\n            sha256 {entry.sha256}"
    )


def describe(devpki: DevPki) -> str:
    """A human listing of a development PKI: paths, OrganIds, fingerprints."""
    base = devpki.directory
    lines = [
        f"Development PKI in {base} (keys: {devpki.key_type}; NOT for production)",
        f"  root      {devpki.root_cert.relative_to(base)}",
        f"            sha256 {devpki.root_sha256}",
        _line("issuing", devpki.issuing, base),
        f"  chain     {devpki.ca_chain.relative_to(base)}",
        _line("axis", devpki.axis, base),
        _line("server", devpki.server, base),
        _line("client", devpki.client, base),
    ]
    lines += [_line("agency", a, base) for a in devpki.agencies]
    lines += [
        _line("revoked", devpki.revoked, base),
        _line("expired", devpki.expired, base),
        f"  crl       {devpki.crl_pem.relative_to(base)}, {devpki.crl_der.relative_to(base)}"
        f"  ({devpki.crl_url})",
        f"  root crl  {devpki.root_crl_pem.relative_to(base)}, "
        f"{devpki.root_crl_der.relative_to(base)}  ({devpki.root_crl_url})",
        f"  manifest  {devpki.manifest.relative_to(base)}",
    ]
    return "\n".join(lines)


def cmd_init(args: argparse.Namespace) -> int:
    agencies = tuple(parse_agency(a) for a in args.agency) if args.agency else DEFAULT_AGENCIES
    devpki = init_dev_pki(
        args.directory,
        now=_now(),
        agencies=agencies,
        key_type=args.key_type,
        hostnames=tuple(args.hostname or ("localhost",)),
        ips=tuple(args.ip or ("127.0.0.1",)),
        overwrite=args.force,
    )
    print(describe(devpki))
    return 0


def cmd_add_agency(args: argparse.Namespace) -> int:
    code, name = parse_agency(args.agency)
    entry = add_agency(args.directory, code, name, now=_now(), overwrite=args.force)
    print(_line("agency", entry, DevPki.load(args.directory).directory))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print(describe(DevPki.load(args.directory)))
    return 0
