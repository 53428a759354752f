"""``axis audit reverify``: a certificate revoked AFTER its packets were accepted, with a
revocation time back-dated before them (a CRL made by certs.pki.make_crl), turns their
stored ``valid`` into ``revoked``; others stay; an interrupted run resumes."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from axis.app import start_daemon
from axis.cli import main as cli
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from certs.pki import make_crl
from tests.harness import NOW, signed_document

DEPT = "000.01.00.H36"


async def _send(dep: DevDeployment) -> dict[str, str]:
    """Three signed packets accepted as valid: two from DEPT, one from the province."""
    daemon = await start_daemon(dep.config)
    sent: dict[str, str] = {}
    try:
        auth = {"Authorization": f"Bearer {dep.systems['qlvb.lamdong'].token}"}
        async with aiohttp.ClientSession() as s:
            for n, sender in enumerate((DEPT, DEPT, PROVINCE)):
                data = signed_document(dep, sender, ["000.30.00.H36"], number=str(500 + n))
                async with s.post(
                    f"{daemon.base_url}/api/v1/packets", data=data, headers=auth
                ) as r:
                    answer = await r.json()
                    assert r.status == 201 and answer["verdict"] == "valid", answer
                    sent[answer["document_id"]] = sender
    finally:
        await daemon.stop()
    return sent


def _revoke_back_dated(dep: DevDeployment, code: str) -> None:
    ca = dep.pki.issuing_ca()
    old = [(e.serial_number, e.revocation_date_utc, None) for e in dep.pki.crl()]
    when = NOW - timedelta(hours=1)  # before the packets were received
    crl = make_crl(
        ca,
        [*old, (dep.pki.agency(code).serial, when, None)],
        this_update=NOW + timedelta(minutes=5),
        next_update=NOW + timedelta(days=7),
        crl_number=99,
    )
    dep.pki.crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


def _run(dep: DevDeployment, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = cli(["audit", *args, "--config", str(dep.config_path), "--json"])
    return code, json.loads(capsys.readouterr().out)


async def test_a_back_dated_revocation_changes_exactly_the_signers_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep = await create_dev_deployment(tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW)
    sent = await _send(dep)

    # nothing changed yet: today's material agrees with the stored verdicts
    code, result = await asyncio.to_thread(_run, dep, capsys, "reverify", "--restart")
    assert code == 0 and result["checked"] == 3 and result["changes"] == []

    _revoke_back_dated(dep, DEPT)
    # interrupted after one batch of one packet ...
    code, first = await asyncio.to_thread(
        _run, dep, capsys, "reverify", "--restart", "--batch", "1", "--max-batches", "1"
    )
    assert first["checked"] == 1 and not first["done"]
    # ... and resumed from the saved cursor
    code, result = await asyncio.to_thread(_run, dep, capsys, "reverify", "--batch", "1")
    assert code == 1 and result["resumed"] and result["done"] and result["checked"] == 3
    changed = {c["document_id"]: c for c in result["changes"]}
    assert set(changed) == {d for d, s in sent.items() if s == DEPT}
    for c in changed.values():
        assert (c["old"], c["new"]) == ("valid", "revoked")
        assert any("revoked" in r for r in c["reasons"])

    # judged as of now, the result is the same here; the run itself is audited
    code, now_result = await asyncio.to_thread(
        _run, dep, capsys, "reverify", "--at", "now", "--restart"
    )
    assert {c["document_id"] for c in now_result["changes"]} == set(changed)
    code, report = await asyncio.to_thread(_run, dep, capsys, "verify")
    assert code == 0 and report["ok"]
