"""The pure analysis of a packet (axis.analysis) and its pool of worker processes: a
worker answers exactly what the daemon's own process answers (verdicts, the facts intake
routes on, refusals with their class, code and details)."""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.analysis import (
    WORKER_NICENESS,
    Analysis,
    Analyzer,
    PacketFacts,
    Refused,
    _instant,
    _micros,
    analyze,
    from_wire,
    to_wire,
)
from axis.app import load_trust, parse_limits, policy_from_config
from axis.config import load_config
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.intake import IntakeSettings
from axis.pades import AttachmentVerdict
from axis.store.models import VN_TZ
from axis_errors import ConfigError, PacketError, XmlError
from edxml.builder import build_document
from signing.certpath import PathCache, SignerDetails
from signing.policy import Outcome
from signing.verify import Verdict
from tests.harness import NOW, document, signed, signed_document, status_bytes

TO = "000.01.00.H36"


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW
    )


@pytest.fixture
async def settings(deployment: DevDeployment) -> IntakeSettings:
    config = deployment.config
    trust, revocation = await load_trust(config)
    return IntakeSettings(
        policy=policy_from_config(config),
        trust=trust,
        revocation=revocation,
        limits=parse_limits(config),
    )


@pytest.fixture
async def pool(deployment: DevDeployment, settings: IntakeSettings) -> AsyncIterator[Analyzer]:
    analyzer = Analyzer(settings.analysis(), workers=1)
    await analyzer.start()
    yield analyzer
    await analyzer.aclose()


def _bodies(deployment: DevDeployment) -> dict[str, bytes]:
    good = signed_document(deployment, PROVINCE, [TO])
    with_file = signed(
        deployment,
        PROVINCE,
        build_document(
            document(PROVINCE, [TO], attachments=[("a.pdf", "application/pdf", b"%PDF" * 500)])
        ),
    )
    tampered = good.replace(b"UBND-VP", b"UBND-VX", 1)
    assert tampered != good
    return {
        "good": good,
        "with-file": with_file,
        "unsigned": build_document(document(PROVINCE, [TO])),
        "tampered": tampered,
        "not-xml": b"this is not XML",
        "dtd": b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    }


async def test_a_valid_packet_is_read_without_its_tree_or_payloads(
    deployment: DevDeployment, settings: IntakeSettings
) -> None:
    body = _bodies(deployment)["with-file"]
    result = analyze(body, settings.analysis(), NOW, PathCache())
    assert result.refused is None
    assert result.verdict is not None and result.verdict.outcome.value == "valid"
    assert result.verdict.signed_root is None
    doc = document(PROVINCE, [TO])
    assert result.packet == PacketFacts(
        kind="document",
        sender=PROVINCE,
        recipients=(TO,),
        edxml_document_id=doc.document_id,
        business_type="0",
        status_code=None,
        response_for=None,
        response_for_organ=None,
        subject="Về việc triển khai chuyển đổi số năm 2026",
        code_number="101",
        code_notation="UBND-VP",
    )
    assert result.sender == PROVINCE
    assert result.packet_sha256 == hashlib.sha256(body).hexdigest()


async def test_a_status_is_read_as_the_facts_routing_needs(
    deployment: DevDeployment, settings: IntakeSettings
) -> None:
    doc = document(PROVINCE, [TO])
    body = signed(deployment, TO, status_bytes(TO, doc, "03"))
    result = analyze(body, settings.analysis(), NOW, PathCache())
    assert result.refused is None, result.refused
    assert result.packet == PacketFacts(
        kind="status",
        sender=TO,
        recipients=(PROVINCE,),  # back to the document's sender
        edxml_document_id=doc.document_id,
        business_type=None,
        status_code="03",
        response_for=doc.document_id,
        response_for_organ=PROVINCE,
        subject=None,  # no Description given
        code_number=None,
        code_notation=None,
    )


async def test_refusals_carry_their_class_code_and_claimed_sender(
    deployment: DevDeployment, settings: IntakeSettings
) -> None:
    bodies = _bodies(deployment)
    tampered = analyze(bodies["tampered"], settings.analysis(), NOW)
    assert tampered.refused is not None and tampered.packet is None
    error = tampered.refused.error()
    assert type(error) is PacketError and error.code == "signature.invalid"
    assert error.details["verdict"] == "invalid"
    assert tampered.sender == PROVINCE  # claimed, for counting only
    assert tampered.verdict is not None and tampered.verdict.outcome.value == "invalid"

    not_xml = analyze(bodies["not-xml"], settings.analysis(), NOW)
    assert not_xml.verdict is None and not_xml.sender is None
    assert not_xml.refused is not None and isinstance(not_xml.refused.error(), XmlError)

    strict = replace(settings, policy=replace(settings.policy, require_signature=True))
    unsigned = analyze(bodies["unsigned"], strict.analysis(), NOW)
    assert unsigned.refused is not None and unsigned.refused.code == "signature.required"
    assert analyze(bodies["unsigned"], settings.analysis(), NOW).refused is None


async def test_workers_yield_the_cpu_to_the_daemon(pool: Analyzer) -> None:
    pids = await pool.start()
    assert pids and os.getpid() not in pids
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for pid in pids:
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(mine + WORKER_NICENESS, 19)


async def test_a_worker_process_answers_what_this_process_answers(
    deployment: DevDeployment, settings: IntakeSettings, pool: Analyzer
) -> None:
    for name, body in _bodies(deployment).items():
        here: Analysis = analyze(body, settings.analysis(), NOW, PathCache())
        there = await pool.analyze(body, NOW)
        assert there.verify_seconds is not None or here.verify_seconds is None, name
        assert replace(there, verify_seconds=None) == replace(here, verify_seconds=None), name
        if here.refused is not None:
            assert there.refused is not None
            assert type(there.refused.error()) is type(here.refused.error()), name


def test_workers_is_a_count_or_zero(tmp_path: Path) -> None:
    assert load_config(env={}).server.workers is None  # the CPU count
    assert load_config(env={"AXIS_SERVER_WORKERS": "0"}).server.workers == 0
    with pytest.raises(ConfigError) as exc:
        load_config(env={"AXIS_SERVER_WORKERS": "-1"})
    assert exc.value.code == "config.bad-value"


_DAEMON = """
import asyncio
from datetime import UTC, datetime
from axis.analysis import AnalysisSettings, Analyzer
from certs.pki import make_root_ca
from signing.trust import TrustStore

async def main() -> None:
    root = make_root_ca("Worker test root", now=datetime.now(UTC), key_size=2048)
    settings = AnalysisSettings(trust=TrustStore(anchors=(root.cert,)))
    analyzer = Analyzer(settings, workers=2)
    pids = await analyzer.start()
    print(" ".join(map(str, sorted(pids))), flush=True)
    await asyncio.sleep(600)
    await analyzer.aclose()

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_workers_exit_when_their_daemon_is_killed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _DAEMON], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids and all(_alive(p) for p in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, VN_TZ, timezone(timedelta(hours=-11, minutes=-30))]),
    )
)
def test_the_instant_a_worker_analyses_at_is_the_daemons_to_the_microsecond(at: datetime) -> None:
    # the call carries it as whole microseconds since the epoch (cheaper to pickle)
    back = _instant(_micros(at))
    assert back == at and back.tzinfo is UTC
    assert back.astimezone(VN_TZ).date() == at.astimezone(VN_TZ).date()


_TEXT = st.text(max_size=12)
_MAYBE = st.none() | _TEXT
_WORDS = st.lists(_TEXT, max_size=3).map(tuple)
_WHEN = st.datetimes(
    min_value=datetime(1950, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, VN_TZ, timezone(timedelta(hours=-3))]),
)
_SIGNERS = st.builds(
    SignerDetails,
    subject=_TEXT,
    common_name=_MAYBE,
    organ_id=_MAYBE,
    issuer=_TEXT,
    serial=_TEXT,
    sha256=_TEXT,
    not_before=_WHEN,
    not_after=_WHEN,
    public_key_type=_TEXT,
    public_key_size=st.none() | st.integers(0, 16384),
    public_key_curve=_MAYBE,
    key_usages=_WORDS,
    ekus=_WORDS,
    policy_oids=_WORDS,
    is_ca=st.booleans(),
)
_VERDICTS = st.builds(
    Verdict,
    outcome=st.sampled_from(list(Outcome)),
    reasons=_WORDS,
    signer=st.none() | _SIGNERS,
    algorithm=_MAYBE,
    digest_algorithm=_MAYBE,
    chain_sha256=_WORDS,
)
_ATTACHMENTS = st.builds(
    AttachmentVerdict,
    content_id=_TEXT,
    name=_TEXT,
    verdict=_TEXT,
    signatures=st.integers(0, 9),
    signer_subject=_MAYBE,
    signer_sha256=_MAYBE,
    issuer=_MAYBE,
    reasons=_WORDS,
    sha256=_TEXT,
    size=st.integers(0, 10**9),
)
_FACTS = st.builds(
    PacketFacts,
    kind=st.sampled_from(["document", "status"]),
    sender=_TEXT,
    recipients=_WORDS,
    edxml_document_id=_TEXT,
    business_type=_MAYBE,
    status_code=_MAYBE,
    response_for=_MAYBE,
    response_for_organ=_MAYBE,
    subject=_MAYBE,
    code_number=_MAYBE,
    code_notation=_MAYBE,
)


@given(
    st.builds(
        Analysis,
        verdict=st.none() | _VERDICTS,
        packet=st.none() | _FACTS,
        sender=_MAYBE,
        refused=st.none()
        | st.builds(Refused, st.just(PacketError), _TEXT, _TEXT, st.just({"n": 1})),
        verify_seconds=st.none() | st.floats(0, 10),
        packet_sha256=_MAYBE,
        attachments=st.lists(_ATTACHMENTS, max_size=3).map(tuple),
    )
)
def test_an_analysis_crosses_from_a_worker_unchanged(analysis: Analysis) -> None:
    back = from_wire(pickle.loads(pickle.dumps(to_wire(analysis))))
    assert back == analysis
    if analysis.verdict is not None:
        assert back.verdict is not None and type(back.verdict.outcome) is Outcome
    if analysis.verdict is not None and analysis.verdict.signer is not None:
        assert back.verdict is not None and back.verdict.signer is not None
        # the same instants in the same time zones (== alone ignores the zone)
        assert back.verdict.signer.to_dict() == analysis.verdict.signer.to_dict()
