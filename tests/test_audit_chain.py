"""The tamper-evident audit log: every event chained in the store's own transactions;
``axis audit verify`` catches rows edited, deleted, reordered or inserted directly in
the database (SQLite file and PostgreSQL), altered packets, a truncated or rewritten
chain; exported archives verify offline and catch their own tampering."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.auditchain import GENESIS, ChainEvent, ChainVerifier, link
from axis.auditsign import axis_certificates
from axis.cli import main as cli
from axis.store import open_configured_store
from axis.store import schema as t
from axis.store.audit import verify_store
from axis.store.models import utcnow
from axis.store.packetfiles import packet_dir
from tests.audit_support import Db, Filled, filled, sha256
from tests.conftest import fresh_pg_database, pg_url

# --------------------------------------------------------------------- pure chain


def _rows(n: int) -> list[dict[str, Any]]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "at": t0 + timedelta(seconds=i, microseconds=i * 7),
            "kind": "k" + str(i % 3),
            "node": "n",
            "document_id": None if i % 2 else f"D{i}",
            "agency_code": "000.00.00.H36",
            "actor": None,
            "detail": json.dumps({"i": i, "tên": "Lâm Đồng"}, ensure_ascii=False),
            "packet_sha256": None if i % 2 else "f" * 64,
        }
        for i in range(n)
    ]


def _events(rows: list[dict[str, Any]]) -> list[ChainEvent]:
    return [
        ChainEvent(
            r["id"],
            r["at"],
            r["kind"],
            r["node"],
            r["document_id"],
            r["agency_code"],
            r["actor"],
            r["detail"],
            r["packet_sha256"],
            r["prev_hash"],
            r["hash"],
        )
        for r in rows
    ]


def _walk(events: list[ChainEvent], batch: int = 3) -> ChainVerifier:
    v = ChainVerifier()
    for i in range(0, len(events), batch):
        v.feed(events[i : i + batch])
    v.finish()
    return v


@given(st.integers(1, 30))
def test_a_linked_chain_verifies_and_hash_links_follow(n: int) -> None:
    rows = _rows(n)
    head = link(rows, prev_hash=GENESIS, first_id=1)
    v = _walk(_events(rows))
    assert v.report.ok and v.report.events == n
    assert rows[0]["prev_hash"] == GENESIS and rows[-1]["hash"] == head
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))


@settings(max_examples=60)
@given(st.integers(3, 25), st.data())
def test_any_single_edit_delete_or_swap_is_found_at_its_place(n: int, data: st.DataObject) -> None:
    rows = _rows(n)
    link(rows, prev_hash=GENESIS, first_id=1)
    events = _events(rows)
    what = data.draw(st.sampled_from(["edit", "delete", "swap"]))
    i = data.draw(st.integers(0, n - 2))
    if what == "edit":
        field = data.draw(st.sampled_from(["detail", "kind", "actor", "at", "packet_sha256"]))
        e = events[i]
        assert isinstance(e.at, datetime)
        changed = {
            "detail": {"detail": e.detail.replace("Lâm", "Lam")},
            "kind": {"kind": e.kind + "x"},
            "actor": {"actor": "mallory"},
            "at": {"at": e.at + timedelta(microseconds=1)},
            "packet_sha256": {"packet_sha256": "0" * 64},
        }[field]
        events[i] = e._replace(**changed)  # type: ignore[arg-type]
        expect = ("edited", events[i].id)
    elif what == "delete":
        del events[i]
        expect = ("deleted", events[i].id)
    else:
        a, b = events[i], events[i + 1]
        events[i], events[i + 1] = b._replace(id=a.id), a._replace(id=b.id)
        expect = ("reordered", a.id)
    v = _walk(events)
    assert not v.report.ok
    first = v.report.first_problem
    assert first is not None
    assert (first.kind, first.event_id) == expect


# --------------------------------------------------------------------- the database


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


async def _deployment(backend: str, tmp: Path) -> AsyncIterator[Filled]:
    if backend == "sqlite":
        yield await filled(tmp)
        return
    url = pg_url()
    if url is None:
        pytest.skip("PostgreSQL tests skipped: set AXIS_TEST_PG_URL")
    async with fresh_pg_database(url) as db_url:
        yield await filled(tmp, db_url)


def _verify(dep: Filled, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    assert dep.config.source is not None
    capsys.readouterr()
    code = cli(["audit", "verify", "--config", str(dep.config.source), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


async def _event_id(db: Db, kind: str, nth: int = 0) -> int:
    rows = await db.fetch(f"SELECT id FROM events WHERE kind = '{kind}' ORDER BY id")
    return int(rows[nth][0])


Tamper = Callable[[Db, Filled], Any]


async def _edit(db: Db, dep: Filled) -> tuple[str, int]:
    eid = await _event_id(db, "packet.accepted", 3)
    await db.execute(
        # "verdict":"valid" -> "verdict":"invalid" (whatever the verdict, it changes)
        'UPDATE events SET detail = replace(detail, \'"verdict":"\', \'"verdict":"in\')'
        " WHERE id = $1",
        eid,
    )
    return "edited", eid


async def _delete(db: Db, dep: Filled) -> tuple[str, int]:
    eid = await _event_id(db, "packet.refused")
    await db.execute("DELETE FROM events WHERE id = $1", eid)
    return "deleted", eid + 1


async def _reorder(db: Db, dep: Filled) -> tuple[str, int]:
    a = await _event_id(db, "packet.accepted", 5)
    await db.execute("UPDATE events SET id = -1 WHERE id = $1", a)
    await db.execute("UPDATE events SET id = $1 WHERE id = $2", a, a + 1)
    await db.execute("UPDATE events SET id = $1 WHERE id = -1", a + 1)
    return "reordered", a


async def _unchained(db: Db, dep: Filled) -> tuple[str, int]:
    rows = await db.fetch("SELECT max(id) FROM events")
    eid = int(rows[0][0]) + 1
    await db.execute(
        "INSERT INTO events (id, at, kind, detail) VALUES ($1, $2, 'packet.accepted', '{}')",
        eid,
        utcnow() if dep.config.database.url.startswith("postgresql") else "2026-05-01 00:00:00",
    )
    return "unchained", eid


CHAIN_TAMPERING = {"edit": _edit, "delete": _delete, "reorder": _reorder, "insert": _unchained}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", sorted(CHAIN_TAMPERING))
async def test_verify_finds_rows_tampered_directly_in_the_database(
    backend: str, how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async for dep in _deployment(backend, tmp_path):
        code, report = await asyncio.to_thread(_verify, dep, capsys)
        assert code == 0 and report["ok"], report
        assert report["events"] == 13 and report["documents_checked"] == 10
        assert report["unsigned_tail"] == 0 and report["heads_checked"] == 2

        kind, event_id = await CHAIN_TAMPERING[how](Db(dep.config), dep)
        code, report = await asyncio.to_thread(_verify, dep, capsys)
        assert code == 1
        assert report["first_problem"]["kind"] == kind, report["first_problem"]
        assert report["first_problem"]["event_id"] == event_id


@pytest.mark.parametrize("backend", BACKENDS)
async def test_verify_finds_altered_packets_and_documents(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async for dep in _deployment(backend, tmp_path):
        db = Db(dep.config)
        doc_a, doc_b = dep.document_ids[2], dep.document_ids[4]
        forged = b"<edXML>forged</edXML>"
        # 1. the bytes changed, the recorded hash not
        await db.alter_packet(doc_a, forged)
        # 2. bytes and the document's hash changed together: the events still say otherwise
        altered = await db.alter_packet(doc_b, forged)
        await db.execute(
            "UPDATE documents SET packet_sha256 = $1 WHERE id = $2", sha256(altered), doc_b
        )
        code, report = await asyncio.to_thread(_verify, dep, capsys)
        assert code == 1
        found = {(p["kind"], p["document_id"]) for p in report["problems"]}
        assert ("packet-mismatch", doc_a) in found
        assert ("packet-mismatch", doc_b) in found
        # without re-hashing bytes, the document/event mismatch is still seen
        code, report = await asyncio.to_thread(_verify, dep, capsys, "--no-packets")
        assert code == 1
        assert {p["document_id"] for p in report["problems"]} == {doc_b}


async def test_verify_finds_packet_bytes_cut_from_the_segment_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite keeps packet bytes in segment files: a file cut short (or lost in a backup
    that copied only the database) leaves packets whose bytes are gone."""
    dep = await filled(tmp_path)
    rows = await Db(dep.config).fetch(
        "SELECT document_id, file_offset FROM packets ORDER BY file_offset"
    )
    assert dep.config.database.url.startswith("sqlite")
    segment = packet_dir(Path(dep.config.database.url.split("///", 1)[1])) / "00000001.seg"
    cut_at = int(rows[-2][1]) + 1  # the last two packets lose their bytes
    os.truncate(segment, cut_at)
    code, report = await asyncio.to_thread(_verify, dep, capsys)
    assert code == 1
    found = {(p["kind"], p["document_id"]) for p in report["problems"]}
    assert found == {("packet-missing", rows[-2][0]), ("packet-missing", rows[-1][0])}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_signed_heads_catch_truncation_and_a_rewritten_chain(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async for dep in _deployment(backend, tmp_path):
        db = Db(dep.config)
        # truncation: the tail after the first signed head is deleted; the chain that is
        # left is internally consistent, but the last signed head names a missing event
        heads = await db.fetch("SELECT event_id FROM signed_heads ORDER BY event_id")
        first_head, last_head = int(heads[0][0]), int(heads[-1][0])
        await db.execute("DELETE FROM events WHERE id > $1", first_head + 2)
        code, report = await asyncio.to_thread(_verify, dep, capsys)
        assert code == 1
        assert report["first_problem"]["kind"] == "head-missing-event"
        assert report["first_problem"]["event_id"] == last_head

    async for dep in _deployment(backend, tmp_path / "again"):
        # rewrite: an intruder edits an event and recomputes every hash after it
        db = Db(dep.config)
        store = await open_configured_store(dep.config)
        try:
            async with store._read() as conn:
                q = t.events.select().order_by(t.events.c.id)
                rows = [dict(r._mapping) for r in (await conn.execute(q)).all()]
        finally:
            await store.close()
        rows[4]["actor"] = "mallory"
        link(rows, prev_hash=GENESIS, first_id=[r["id"] for r in rows])
        for r in rows:
            await db.execute(
                "UPDATE events SET actor = $1, prev_hash = $2, hash = $3 WHERE id = $4",
                r["actor"],
                r["prev_hash"],
                r["hash"],
                r["id"],
            )
        code, report = await asyncio.to_thread(_verify, dep, capsys)
        assert code == 1
        assert report["first_problem"]["kind"] == "head-mismatch"


@pytest.mark.postgres
async def test_two_nodes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    url = pg_url()
    if url is None:
        pytest.skip("PostgreSQL tests skipped: set AXIS_TEST_PG_URL")
    from tests.audit_support import packet

    async with fresh_pg_database(url) as db_url:
        dep = await filled(tmp_path, db_url, sign_at_end=False)
        a = await open_configured_store(dep.config)
        b = await open_configured_store(dep.config)
        try:
            packets = [
                packet(200 + i, "000.00.00.H36", ["000.01.00.H36"], "valid") for i in range(40)
            ]
            await asyncio.gather(
                *((a if i % 2 else b).commit_packet(p) for i, p in enumerate(packets)),
                *(a.record_event("admin.x", detail={"i": i}) for i in range(10)),
            )
            report = await verify_store(a, certs=axis_certificates(dep.config)[:1])
        finally:
            await a.close()
            await b.close()
        assert report.ok, report.problems
        assert report.events == 40 + 10 + 13


# --------------------------------------------------------------------- archives


def _export(dep: Filled, out: Path, capsys: pytest.CaptureFixture[str], *days: str) -> None:
    assert dep.config.source is not None
    code = cli(["audit", "export", "--config", str(dep.config.source), *days, "-o", str(out)])
    assert code == 0
    capsys.readouterr()


def _verify_archive(
    out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli(["audit", "verify", "--archive", str(out), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _rewrite_member(
    path: Path, name: str, change: Callable[[bytes], bytes], fix_digest: bool
) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = change(members[name])
    if fix_digest:
        manifest = json.loads(members["manifest.json"])
        manifest["sha256"][name] = sha256(members[name])
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


async def test_export_verifies_offline_and_catches_its_own_tampering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep = await filled(tmp_path)
    out = tmp_path / "audit.zip"
    await asyncio.to_thread(_export, dep, out, capsys, "--from", "2026-03-02", "--to", "2026-03-03")
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        events = [json.loads(x) for x in zf.read("events.jsonl").splitlines()]
    assert manifest["events"] == len(events) > 5
    assert manifest["heads"] >= 1 and manifest["axis_cert_sha256"]
    assert events[0]["prev_hash"] != GENESIS or events[0]["id"] == 1

    code, report = await asyncio.to_thread(_verify_archive, out, capsys)
    assert code == 0 and report["ok"] and report["unsigned_tail"] == 0
    assert report["axis_cert"]["chain_ok"]
    pinned = dep.config.audit.cert
    assert pinned is not None
    code, _ = await asyncio.to_thread(_verify_archive, out, capsys, "--cert", str(pinned))
    assert code == 0
    other = tmp_path / "other"
    from tests.audit_support import make_identity

    other_cert, _k, _r = make_identity(other)
    code, report = await asyncio.to_thread(_verify_archive, out, capsys, "--cert", str(other_cert))
    assert code == 1 and report["first_problem"]["kind"] == "head-unknown-cert"

    # an event edited inside the archive, digest in the manifest fixed up
    edited = tmp_path / "edited.zip"
    edited.write_bytes(out.read_bytes())
    _rewrite_member(
        edited, "events.jsonl", lambda b: b.replace(b'\\"valid\\"', b'\\"invalid\\"', 1), True
    )
    code, report = await asyncio.to_thread(_verify_archive, edited, capsys)
    assert code == 1 and report["first_problem"]["kind"] == "edited"

    # a packet hash swapped in documents.jsonl
    swapped = tmp_path / "swapped.zip"
    swapped.write_bytes(out.read_bytes())
    _rewrite_member(
        swapped,
        "documents.jsonl",
        lambda b: b.replace(b'"packet_sha256":"', b'"packet_sha256":"0', 1),
        True,
    )
    code, report = await asyncio.to_thread(_verify_archive, swapped, capsys)
    assert code == 1 and report["first_problem"]["kind"] == "packet-mismatch"

    # a member changed without fixing the manifest: refused as altered (exit 2)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(out.read_bytes())
    _rewrite_member(broken, "heads.jsonl", lambda b: b + b"\n", False)
    capsys.readouterr()
    assert cli(["audit", "verify", "--archive", str(broken)]) == 2
