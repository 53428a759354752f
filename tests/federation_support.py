"""A federation of real Axis daemons on loopback: the national axis and two provinces.

- the national axis (``000.00.00.G22``, the Government Office runs it): every code of
  both provinces in its directory, the ministries' office system, and one system per
  provincial axis acting for ``*.H36`` / ``*.H53`` (``axis systems add --agency-pattern``);
- Lâm Đồng (H36) and Tây Ninh (H53): their own agencies, routes ``*.H<nn>`` local and
  ``*`` national, ``national.*`` pointing at the national daemon with the credentials it
  issued for them.

PKI: each deployment has its own development PKI (as each province's CA would be), and
every daemon trusts all three roots (cross-trust), so that a packet signed in one
province verifies at the national axis and at the other province.

Used by ``tests/test_federation.py`` and ``bench/bench_federation.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from axis.devsetup import DevDeployment, create_dev_deployment
from axis.directory import Agency
from edxml.builder import build_document, build_status
from edxml.compose import compose_document, compose_status
from edxml.model import DocumentPacket, StatusCode
from signing.sign import sign_packet
from tests.daemon_process import free_port
from tests.harness import NOW

T = TypeVar("T")

NATIONAL_ORGAN = "000.00.00.G22"
VPCP = "000.00.00.G22"
BTC = "000.00.00.G12"

H36 = "000.00.00.H36"
H36_DEPT = "000.01.00.H36"
H36_WARD = "000.01.30.H36"
H36_OLD_DISTRICT = "000.31.00.H36"
H36_COMMUNE = "000.01.31.H36"

H53 = "000.00.00.H53"
H53_DEPT = "000.00.05.H53"
H53_COMMUNE = "000.21.32.H53"

NAMES = {
    VPCP: "Văn phòng Chính phủ",
    BTC: "Bộ Tài chính",
    H36: "UBND tỉnh Lâm Đồng",
    H36_DEPT: "Sở Nội vụ tỉnh Lâm Đồng",
    H36_WARD: "UBND Phường 1, Đà Lạt",
    H36_OLD_DISTRICT: "UBND huyện Đức Trọng",
    H36_COMMUNE: "UBND xã Đức Trọng",
    H53: "UBND tỉnh Tây Ninh",
    H53_DEPT: "Sở Nội vụ tỉnh Tây Ninh",
    H53_COMMUNE: "UBND xã Hòa Thành",
}

H36_AGENCIES = (
    Agency(H36, NAMES[H36], "province"),
    Agency(H36_DEPT, NAMES[H36_DEPT], "province", H36),
    Agency(H36_OLD_DISTRICT, NAMES[H36_OLD_DISTRICT], "district", H36),
    Agency(H36_WARD, NAMES[H36_WARD], "commune", H36),
    Agency(H36_COMMUNE, NAMES[H36_COMMUNE], "commune", H36_OLD_DISTRICT),
)
H53_AGENCIES = (
    Agency(H53, NAMES[H53], "province"),
    Agency(H53_DEPT, NAMES[H53_DEPT], "province", H53),
    Agency(H53_COMMUNE, NAMES[H53_COMMUNE], "commune", H53),
)
CENTRAL = (Agency(VPCP, NAMES[VPCP], "central"), Agency(BTC, NAMES[BTC], "central"))


def party(code: str) -> tuple[str, str]:
    return code, NAMES.get(code, code)


@dataclass(frozen=True)
class Federation:
    national: DevDeployment
    h36: DevDeployment
    h53: DevDeployment
    national_port: int

    @property
    def national_url(self) -> str:
        return f"http://127.0.0.1:{self.national_port}"

    def of(self, code: str) -> DevDeployment:
        """The deployment whose PKI signs for ``code``."""
        if code.endswith(".H36"):
            return self.h36
        if code.endswith(".H53"):
            return self.h53
        return self.national


def _pki_files(root: Path) -> dict[str, list[str]]:
    pki = root / "pki"
    return {
        "anchors": [str(pki / "root-ca.pem")],
        "intermediates": [str(pki / "issuing-ca.pem")],
        "crls": [str(pki / "crl.pem"), str(pki / "root-crl.pem")],
    }


def _cross_trust(roots: Sequence[Path]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"anchors": [], "intermediates": [], "crls": []}
    for root in roots:
        for key, files in _pki_files(root.resolve()).items():
            out[key].extend(files)
    return out


async def create_federation(
    root: Path,
    *,
    poll_interval: float = 0.2,
    delivery: Mapping[str, Any] | None = None,
    h53_endpoint: str | None = None,
    now: datetime = NOW,
) -> Federation:
    """Three deployments under ``root`` (national, h36, h53), not started.

    ``h53_endpoint`` replaces the national axis's URL in Tây Ninh's configuration (a
    test puts a proxy there).
    """
    roots = {name: (root / name).resolve() for name in ("national", "h36", "h53")}
    trust = _cross_trust(list(roots.values()))
    national_port = free_port()
    national = await create_dev_deployment(
        roots["national"],
        agencies=(*CENTRAL, *H36_AGENCIES, *H53_AGENCIES),
        systems={
            "axis.h36": ("agency", ("*.H36",)),
            "axis.h53": ("agency", ("*.H53",)),
            "qlvb.vpcp": ("agency", (VPCP,)),
            "quantri": ("admin", ("*",)),
        },
        signing_agencies=[a.code for a in CENTRAL],
        now=now,
        port=national_port,
        organ_id=NATIONAL_ORGAN,
        name="Trục liên thông văn bản quốc gia",
        extra={"trust": trust, "axis": {"mode": "national"}},
    )
    delivery_keys = {
        "sweep_interval": 0.2,
        "base_delay": 0.2,
        "max_delay": 1.0,
        "breaker_cooldown": 1.0,
        **(delivery or {}),
    }

    async def province(
        name: str, organ: str, agencies: Sequence[Agency], systems: Mapping[str, Any]
    ) -> DevDeployment:
        creds = national.systems[f"axis.{name}"]
        suffix = organ.rsplit(".", 1)[1]
        endpoint = f"http://127.0.0.1:{national_port}/vxp"
        if name == "h53" and h53_endpoint is not None:
            endpoint = h53_endpoint
        return await create_dev_deployment(
            roots[name],
            agencies=agencies,
            systems=systems,
            now=now,
            port=free_port(),
            organ_id=organ,
            name=f"Trục liên thông văn bản {NAMES[organ]}",
            routes=((f"*.{suffix}", "local"), ("*", "national")),
            extra={
                "trust": trust,
                "national": {
                    "endpoint": endpoint,
                    "systemid": creds.systemid,
                    "secret": creds.secret,
                    "poll_interval": poll_interval,
                    "directory_sync_interval": 0,
                    "timeout": 10.0,
                },
                "delivery": delivery_keys,
            },
        )

    h36 = await province(
        "h36",
        H36,
        H36_AGENCIES,
        {
            "qlvb.lamdong": ("agency", (H36, H36_DEPT)),
            "qlvb.phuong": ("agency", (H36_WARD, H36_COMMUNE, H36_OLD_DISTRICT)),
            "quantri": ("admin", ("*",)),
        },
    )
    h53 = await province(
        "h53",
        H53,
        H53_AGENCIES,
        {
            "qlvb.tayninh": ("agency", (H53, H53_DEPT)),
            "qlvb.xa": ("agency", (H53_COMMUNE,)),
            "quantri": ("admin", ("*",)),
        },
    )
    for dep in (national, h36, h53):  # the cross-trust names the files each PKI wrote
        assert dep.pki.root_cert == Path(_pki_files(dep.root)["anchors"][0])
    return Federation(national, h36, h53, national_port)


# --- packets ------------------------------------------------------------------------------


def document(
    sender: str, recipients: Sequence[str], *, number: str = "12", **kw: Any
) -> DocumentPacket:
    return compose_document(
        party(sender),
        [party(r) for r in recipients],
        when=NOW,
        number=number,
        notation=kw.pop("notation", "UBND-VP"),
        subject=kw.pop("subject", "Về việc phối hợp liên tỉnh năm 2026"),
        **kw,
    )


def sign(fed: Federation, code: str, data: bytes) -> bytes:
    dep = fed.of(code)
    issued = dep.pki.issued(dep.pki.agency(code))
    return sign_packet(data, issued.key, issued.cert, chain=issued.chain[:1])


def signed_document(fed: Federation, doc: DocumentPacket) -> bytes:
    return sign(fed, doc.sender, build_document(doc))


def signed_status(fed: Federation, sender: str, doc: DocumentPacket, code: str) -> bytes:
    status = build_status(compose_status(party(sender), doc, StatusCode(code), when=NOW))
    return sign(fed, sender, status)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 60.0, every: float = 0.05
) -> T:
    """The first truthy result of ``probe``; AssertionError after ``within`` seconds.
    (A deadline against hangs, not a timing assertion: the condition is what is tested.)"""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {within} s")
        await asyncio.sleep(every)
