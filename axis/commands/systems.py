"""``axis systems``: the callers of the axis and their credentials.

``axis systems add`` prints the new system's secret and token ONCE; the store keeps the
secret encrypted and only the token's hash, and no command shows either again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from axis.commands._deployment import add_config_argument, run_with_store
from axis.credentials import (
    default_system_id,
    new_secret,
    new_token,
    validate_system_id,
)
from axis.directory import normalize_code, validate_pattern
from axis.store import NewSystem, Store, System
from axis_errors import InputError, NotFoundError

__all__ = ["register"]

ROLES = ("agency", "auditor", "admin")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "systems",
        help="manage the systems that call the axis and their credentials",
        description="Manage calling systems: systemid + HMAC secret (VXP), bearer token.",
    )
    sub = parser.add_subparsers(dest="systems_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "add",
        help="create a system and print its credentials (once)",
        description="Create a system. Its secret and token are printed once and never again.",
    )
    p.add_argument(
        "--agency",
        action="append",
        default=[],
        metavar="CODE",
        help="an agency (in the directory) the system acts for; repeatable",
    )
    p.add_argument(
        "--agency-pattern",
        action="append",
        default=[],
        metavar="PATTERN",
        help="a glob of agency codes the system acts for, e.g. '*.H36'; repeatable",
    )
    p.add_argument("--role", choices=ROLES, default="agency")
    p.add_argument("--name", help="display name (default: the first agency's name)")
    p.add_argument("--id", dest="system_id", metavar="SYSTEMID", help="default: sys.<code>")
    p.add_argument(
        "--client-cert",
        type=Path,
        metavar="CERT.pem",
        help="client certificate the system may authenticate with (mTLS)",
    )
    p.add_argument("--json", action="store_true", help='print {"systemid", "secret", "token"}')
    add_config_argument(p)
    p.set_defaults(func=_add)

    p = sub.add_parser("list", help="list systems (never their secrets)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("disable", help="disable a system (its credentials stop working)")
    p.add_argument("system_id", metavar="SYSTEMID")
    add_config_argument(p)
    p.set_defaults(func=_disable)


def _cert_sha256(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read certificate file {path}: {exc.strerror}.",
            code="input.file-unreadable",
        ) from None
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        raise InputError(
            f"{path} is not a PEM or DER X.509 certificate.", code="systems.bad-cert"
        ) from None
    return cert.fingerprint(hashes.SHA256()).hex()


def _add(args: argparse.Namespace) -> int:
    codes = [normalize_code(c) for c in args.agency]
    patterns = [validate_pattern(p) for p in args.agency_pattern]
    if args.role == "agency" and not codes and not patterns:
        raise InputError(
            "An agency system needs --agency CODE or --agency-pattern PATTERN.",
            code="systems.no-agency",
        )
    if args.system_id is not None:
        validate_system_id(args.system_id)
    client_cert = _cert_sha256(args.client_cert) if args.client_cert else None

    async def body(store: Store) -> tuple[System, str, str]:
        names = []
        for code in codes:
            agency = await store.get_agency(code)
            if agency is None:
                raise NotFoundError(
                    f"Agency {code} is not in the directory; add or import it first.",
                    code="agencies.not-found",
                    details={"code": code},
                )
            names.append(agency.name)
        system_id = args.system_id
        if system_id is None:
            base = default_system_id(codes[0]) if codes else f"sys.{args.role}"
            system_id, n = base, 1
            while await store.get_system(system_id) is not None:
                n += 1
                system_id = f"{base}-{n}"
        secret, token = new_secret(), new_token()
        system = await store.add_system(
            NewSystem(
                id=system_id,
                name=args.name or (names[0] if names else system_id),
                role=args.role,
                patterns=(*codes, *patterns),
                secret=secret,
                token=token,
                client_cert_sha256=client_cert,
            )
        )
        return system, secret, token

    system, secret, token = run_with_store(args, body)
    if args.json:
        print(json.dumps({"systemid": system.id, "secret": secret, "token": token}))
        return 0
    print(f"Created system {system.id} ({system.role}) acting for {', '.join(system.patterns)}")
    print(f"  systemid: {system.id}")
    print(f"  secret:   {secret}    (VXP-compatible API: HMAC key)")
    print(f"  token:    {token}    (native API: Authorization: Bearer ...)")
    print("Keep them now: Axis stores the secret encrypted and only a hash of the token,")
    print("and will not show them again.")
    return 0


def _system_dict(s: System) -> dict[str, Any]:
    return {
        "systemid": s.id,
        "name": s.name,
        "role": s.role,
        "agencies": list(s.patterns),
        "client_cert_sha256": s.client_cert_sha256,
        "created_at": s.created_at.isoformat(),
        "disabled": s.disabled,
    }


def _list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> list[System]:
        return await store.list_systems()

    systems = run_with_store(args, body)
    if args.json:
        print(json.dumps([_system_dict(s) for s in systems], ensure_ascii=False, indent=2))
        return 0
    for s in systems:
        flag = " (disabled)" if s.disabled else ""
        print(f"{s.id:<28} {s.role:<8} {', '.join(s.patterns) or '-'}  {s.name}{flag}")
    print(f"{len(systems)} systems")
    return 0


def _disable(args: argparse.Namespace) -> int:
    async def body(store: Store) -> None:
        await store.set_system_disabled(args.system_id, True)

    run_with_store(args, body)
    print(f"Disabled system {args.system_id}.")
    return 0
