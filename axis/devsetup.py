"""A development deployment in one directory: PKI, configuration, directory, systems.

What ``axis demo`` stands on, and what tests and benchmarks use to get a real daemon
with real certificates. Nothing here is for production: keys are unencrypted.

Layout of ``root``::

    pki/          the development PKI (``axis pki init``)
    data/         the daemon's data directory (SQLite database, security key)
    axis.toml     the configuration
    systems.json  the systems' credentials (0600), as ``axis systems add`` printed them
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from axis.config import Config, load_config
from axis.credentials import new_secret, new_token
from axis.directory import Agency
from axis.store import NewSystem, open_configured_store
from certs.devpki import DevPki, init_dev_pki


@dataclass(frozen=True)
class Credentials:
    systemid: str
    secret: str
    token: str
    role: str
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class DevDeployment:
    root: Path
    pki: DevPki
    config_path: Path
    config: Config
    systems: Mapping[str, Credentials]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _prepare_root(root: Path) -> Path:
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _write_credentials(path: Path, creds: Mapping[str, Credentials]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({k: v.__dict__ for k, v in creds.items()}, fh, ensure_ascii=False, indent=2)


def render_toml(
    sections: Mapping[str, Mapping[str, Any]], routes: Sequence[tuple[str, str]]
) -> str:
    lines = ["# Written by axis.devsetup: a development deployment.", ""]
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in keys.items())
        lines.append("")
    for match, via in routes:
        lines += ["[[routes]]", f"match = {_toml_value(match)}", f"via = {_toml_value(via)}", ""]
    return "\n".join(lines)


async def create_dev_deployment(
    root: Path,
    *,
    agencies: Sequence[Agency],
    systems: Mapping[str, tuple[str, Sequence[str]]],
    now: datetime,
    port: int = 0,
    organ_id: str = "000.00.00.H36",
    name: str = "Trục liên thông văn bản tỉnh Lâm Đồng",
    database_url: str | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    routes: Sequence[tuple[str, str]] = (("*", "local"),),
    signing_agencies: Sequence[str] | None = None,
) -> DevDeployment:
    """Create (or overwrite) a development deployment under ``root``.

    ``systems`` maps a systemid to (role, agency codes or patterns). Every agency in
    ``signing_agencies`` (default: all) gets a signing certificate from the dev PKI.
    """
    signers = {a.code for a in agencies} if signing_agencies is None else set(signing_agencies)
    root = await asyncio.to_thread(_prepare_root, root)
    pki = await asyncio.to_thread(
        init_dev_pki,
        root / "pki",
        now=now,
        agencies=[(a.code, a.name) for a in agencies if a.code in signers],
        overwrite=True,
    )
    sections: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": port},
        "axis": {"organ_id": organ_id, "name": name, "data_dir": str(root / "data")},
        "trust": {
            "anchors": [str(pki.root_cert)],
            "intermediates": [str(pki.issuing.cert)],
            "crls": [str(pki.crl_pem), str(pki.root_crl_pem)],
        },
    }
    # the axis's own certificate: signs the audit chain heads and the receipts
    sections["audit"] = {"cert": str(pki.axis.cert), "key": str(pki.axis.key)}
    if database_url:
        sections["database"] = {"url": database_url}
    for section, keys in (extra or {}).items():
        sections.setdefault(section, {}).update(keys)
    config_path = root / "axis.toml"
    await asyncio.to_thread(config_path.write_text, render_toml(sections, routes), encoding="utf-8")
    config = await asyncio.to_thread(load_config, config_path, {})

    creds: dict[str, Credentials] = {}
    store = await open_configured_store(config)
    try:
        await store.upsert_agencies(agencies)
        for systemid, (role, patterns) in systems.items():
            existing = await store.get_system(systemid)
            if existing is not None:
                raise FileExistsError(f"system {systemid} exists already in {config.database.url}")
            secret, token = new_secret(), new_token()
            await store.add_system(
                NewSystem(
                    id=systemid,
                    name=systemid,
                    role=role,  # type: ignore[arg-type]
                    patterns=tuple(patterns),
                    secret=secret,
                    token=token,
                )
            )
            creds[systemid] = Credentials(systemid, secret, token, role, tuple(patterns))
    finally:
        await store.close()
    await asyncio.to_thread(_write_credentials, root / "systems.json", creds)
    return DevDeployment(root, pki, config_path, config, creds)
