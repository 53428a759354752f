"""The VXP-compatible API against a real daemon on loopback (real SQLite file).

* Every request captured from the vendor's Java SDK (``../shared/samples/vxp-wire/`` and
  its ``session/`` folder) is replayed byte for byte and accepted: its HMAC verifies
  with the secret named there, and the answer is the SDK's JSON envelope.
* A changed byte of the signed header, or another system's secret, gets 401
  ``vxp.bad-hmac``; header values outside the signed JSON are ignored.
* An office system's whole loop through :class:`adapters.vxp.client.VxpClient` in the
  SDK's long-lived mode (left-over keys of earlier calls ride along on every request).
* The body is bound to the signed ``hash-file``; the signed ``from`` to the packet's From.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from adapters.vxp.client import VxpClient
from adapters.vxp.protocol import (
    HASH_HEADER,
    PREFIX,
    SIGN_HEADER,
    frame_edoc,
    gson_object,
    hash_file,
    hash_header,
)
from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.directory import Agency
from axis.store import NewSystem, open_configured_store
from axis_errors import PeerError
from edxml.builder import build_document
from tests.harness import NOW, document, native, signed, signed_document, status_bytes
from tests.vxp_wire import (
    CAPTURE_SECRET,
    CAPTURE_SYSTEMID,
    WireRequest,
    WireResponse,
    capture_paths,
    load_capture,
    parse_request,
    replay,
)

OFFICE = "000.00.01.H36"  # the agency the captured SDK client speaks for
DEPT = "000.01.00.H36"
CITY = "000.30.00.H36"
WARD = "000.01.30.H36"
SERVED = (*AGENCIES, Agency(OFFICE, "Văn phòng UBND tỉnh Lâm Đồng", "province", PROVINCE))

#: every capture (path under vxp-wire/) -> (HTTP status, ErrorCode) the daemon answers
CAPTURES: dict[str, tuple[int, str]] = {
    # the body is `<edXML xmlns=…><x>Văn bản</x></edXML>`: a valid HMAC and hash-file,
    # but no edXMLEnvelope, so intake refuses it at schema validation (422)
    "01-vxp_sendEdoc.http": (422, "schema.invalid"),
    "02-vxp_getReceivedEdocList.http": (200, "0"),
    # 'cap-1' was the capture server's id; this axis numbers its deliveries, so the id
    # names nothing here: not found (and no fallback to another key)
    "03-vxp_getEdoc.http": (404, "vxp.unknown-doc"),
    "04-vxp_updateStatus.http": (404, "vxp.unknown-doc"),
    "05-vxp_getAgenciesList.http": (200, "0"),
    "session/01-vxp_sendEdoc.http": (422, "schema.invalid"),
    "session/02-vxp_getReceivedEdocList.http": (200, "0"),
    "session/03-vxp_getEdoc.http": (404, "vxp.unknown-doc"),
    "session/04-vxp_updateStatus.http": (404, "vxp.unknown-doc"),
}
AUTH_CODES = {"vxp.bad-hmac", "vxp.unknown-system", "vxp.missing-signature", "vxp.bad-sign-header"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    """The Lâm Đồng directory plus the captures' agency and system (with their secret)."""
    dep = await create_dev_deployment(tmp_path / "dep", agencies=SERVED, systems=SYSTEMS, now=NOW)
    store = await open_configured_store(dep.config)
    try:
        await store.add_system(
            NewSystem(
                id=CAPTURE_SYSTEMID,
                name="Hệ thống QLVB Văn phòng UBND tỉnh (SDK captures)",
                role="agency",
                patterns=(OFFICE,),
                secret=CAPTURE_SECRET,
                token="axis_capture-system-token-not-used-by-these-tests",
            )
        )
    finally:
        await store.close()
    return dep


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(deployment.config)
    yield d
    await d.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@dataclass
class Wire:
    """Raw requests to the daemon's socket."""

    host: str
    port: int
    shared: Path

    def capture(self, name: str) -> WireRequest:
        return load_capture(self.shared / "samples" / "vxp-wire" / name)

    async def send(self, raw: bytes | WireRequest) -> tuple[WireResponse, dict[str, Any]]:
        answer = await replay(raw, self.host, self.port)
        assert (answer.header("Content-Type") or "").startswith("application/json"), answer
        body = json.loads(answer.body)
        assert {"status", "ErrorCode", "ErrorDesc"} <= body.keys(), body
        assert body["status"] == ("OK" if body["ErrorCode"] == "0" else "FAIL"), body
        return answer, body


@pytest.fixture
def wire(daemon: RunningDaemon, shared_dir: Path) -> Wire:
    url = urlsplit(daemon.base_url)
    assert url.hostname and url.port
    return Wire(url.hostname, url.port, shared_dir)


def vxp(daemon: RunningDaemon, dep: DevDeployment, systemid: str) -> VxpClient:
    """A long-lived SDK-like client (``sdk_sticky_params``) of one system."""
    secret = CAPTURE_SECRET if systemid == CAPTURE_SYSTEMID else dep.systems[systemid].secret
    return VxpClient(f"{daemon.base_url}/vxp", systemid, secret, sdk_sticky_params=True)


# --------------------------------------------------------------------------- raw requests


def rebuild(req: WireRequest, headers: list[tuple[str, str]], body: bytes | None = None) -> bytes:
    """``req``'s request line with these headers (Content-Length kept true) and body."""
    payload = req.body if body is None else body
    lines = [f"{req.method} {req.target} {req.version}".encode("ascii")]
    for name, value in headers:
        text = str(len(payload)) if name.lower() == "content-length" else value
        lines.append(name.encode("ascii") + b": " + text.encode("utf-8", "surrogateescape"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def signed_pairs(req: WireRequest) -> list[tuple[str, str]]:
    text = req.header(SIGN_HEADER)
    assert text is not None
    pairs: list[tuple[str, str]] = json.loads(text, object_pairs_hook=list)
    return pairs


def resign(req: WireRequest, secret: str, **changes: str) -> bytes:
    """``req`` as the SDK would have sent it with ``changes`` in its parameter map
    (changed values in place, new keys at the end), signed with ``secret``. Every other
    byte of the request stays as captured."""
    pairs = [(k, changes.pop(k[len(PREFIX) :], v)) for k, v in signed_pairs(req)]
    pairs += [(PREFIX + k, v) for k, v in changes.items()]
    text = gson_object(pairs)
    replaced = dict(pairs) | {
        SIGN_HEADER: text,
        HASH_HEADER: hash_header(text, secret),
        f"{PREFIX}sign-header-key": ";".join(k[len(PREFIX) :] for k, _ in pairs),
    }
    headers = [(name, replaced.get(name, value)) for name, value in req.headers]
    added = [(k, v) for k, v in pairs if req.header(k) is None]
    at = next(i for i, (n, _) in enumerate(headers) if n == f"{PREFIX}sign-header-key")
    return rebuild(req, headers[:at] + added + headers[at:])


def sdk_request(
    client: VxpClient, call: str, params: list[tuple[str, str]], body: bytes, *, octets: bool
) -> WireRequest:
    """The raw request the SDK sends for ``call`` (headers from ``client``)."""
    content_type = "application/octet-stream" if octets else "application/json"
    headers = client.build_headers(content_type, params, send_edoc=octets)
    head = [f"POST /vxp/{call} HTTP/1.1", "Host: 127.0.0.1"]
    head += [f"{n}: {v}" for n, v in headers]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    return parse_request("\r\n".join(head).encode("utf-8") + b"\r\n\r\n" + body)


def send_edoc_request(
    data: bytes, *, from_code: str, secret: str = CAPTURE_SECRET, claimed_hash: str | None = None
) -> WireRequest:
    client = VxpClient("http://127.0.0.1/vxp", CAPTURE_SYSTEMID, secret)
    params = [
        ("from", from_code),
        ("servicetype", "eDoc"),
        ("messagetype", "edoc"),
        ("hash-file", claimed_hash or hash_file(data)),
    ]
    return sdk_request(client, "sendEdoc", params, frame_edoc(data), octets=True)


# --------------------------------------------------------------------------- captures


def test_the_table_covers_every_capture(shared_dir: Path) -> None:
    root = shared_dir / "samples" / "vxp-wire"
    found = {p.relative_to(root).as_posix() for p in capture_paths(shared_dir)}
    assert found == set(CAPTURES)


async def test_every_capture_is_accepted_byte_for_byte(
    wire: Wire, daemon: RunningDaemon, deployment: DevDeployment, session: aiohttp.ClientSession
) -> None:
    # something in the captured system's inbox, so that the list calls list it
    province = native(daemon, deployment, "qlvb.lamdong", session)
    status, sent = await province.send(signed_document(deployment, PROVINCE, [OFFICE]))
    assert status == 201, sent
    store = daemon.services.store
    (waiting,) = await store.list_inbox([OFFICE])

    for name, (http_status, code) in CAPTURES.items():
        req = wire.capture(name)
        answer, body = await wire.send(req)  # the captured bytes, unchanged
        assert (answer.status, body["ErrorCode"]) == (http_status, code), (name, body)
        assert body["ErrorCode"] not in AUTH_CODES and answer.status != 401
        if req.call == "sendEdoc":
            # refused by intake after the HMAC and hash-file checks; DocId still present
            assert body["DocId"] == "" and "edXMLEnvelope" in body["ErrorDesc"]
        elif req.call == "getReceivedEdocList":
            assert [(i["docId"], i["from"], i["to"]) for i in body["data"]] == [
                (str(waiting.delivery_id), PROVINCE, OFFICE)
            ]
            assert body["data"][0]["messageType"] == "edoc"
        elif req.call == "getAgenciesList":
            assert {a["code"] for a in body["data"]} == {a.code for a in SERVED}
        else:  # getEdoc, updateStatus: the id the capture names
            assert "'cap-1'" in body["ErrorDesc"]
        if "Expect" in {n for n, _ in req.headers}:
            assert answer.interim == (100,)  # the body went after 100 Continue

    # the refused sendEdoc stored nothing; the not-found updateStatus changed nothing
    assert await store.list_inbox([OFFICE]) == [waiting]
    assert [d.id for d in await store.sent_by([OFFICE])] == []


async def test_session_update_status_reads_docid_and_get_edoc_reads_docId(
    wire: Wire, daemon: RunningDaemon, deployment: DevDeployment, session: aiohttp.ClientSession
) -> None:
    """The long-lived SDK object's updateStatus carries ``docId`` (left over from
    getEdoc) and ``docid`` (its own): the server acts on ``docid`` only."""
    province = native(daemon, deployment, "qlvb.lamdong", session)
    packets = [signed_document(deployment, PROVINCE, [OFFICE], number=n) for n in ("201", "202")]
    for packet in packets:
        assert (await province.send(packet))[0] == 201
    store = daemon.services.store
    first, second = [str(i.delivery_id) for i in await store.list_inbox([OFFICE])]

    req = wire.capture("session/04-vxp_updateStatus.http")
    assert signed_pairs(req).count((f"{PREFIX}docId", "cap-1")) == 1
    assert (f"{PREFIX}docid", "cap-1") in signed_pairs(req)

    # docId names the first item, docid the second: the second is done
    _, body = await wire.send(resign(req, CAPTURE_SECRET, docId=first, docid=second))
    assert body["ErrorCode"] == "0", body
    assert [str(i.delivery_id) for i in await store.list_inbox([OFFICE])] == [first]

    # docid names nothing: not found, and no falling back to the (valid) docId
    answer, body = await wire.send(resign(req, CAPTURE_SECRET, docId=first, docid="cap-1"))
    assert (answer.status, body["ErrorCode"]) == (404, "vxp.unknown-doc")
    assert [str(i.delivery_id) for i in await store.list_inbox([OFFICE])] == [first]

    # getEdoc with a left-over docid naming another item reads its own docId
    get = wire.capture("session/03-vxp_getEdoc.http")
    _, body = await wire.send(resign(get, CAPTURE_SECRET, docId=first, docid=second))
    assert body["ErrorCode"] == "0" and base64.b64decode(body["data"]) == packets[0]


def _mutations(req: WireRequest) -> list[bytes]:
    """``req`` with one byte of its signed header changed, at every 5th eligible place:
    letters and digits of the JSON's values and of its keys after ``XroadVnpt-``, except
    the systemid's key and value (another systemid is another system; none is no
    signature at all). One more: a changed
    byte of the hash-header itself."""
    text = req.header(SIGN_HEADER)
    mac = req.header(HASH_HEADER)
    assert text is not None and mac is not None
    systemid = f'"{PREFIX}systemid":"{CAPTURE_SYSTEMID}"'
    systemid_at = text.index(systemid)
    protected = set(range(systemid_at, systemid_at + len(systemid)))
    start = 0
    while (at := text.find(PREFIX, start)) >= 0:
        protected.update(range(at, at + len(PREFIX)))
        start = at + 1
    eligible = [i for i, ch in enumerate(text) if ch.isalnum() and i not in protected]

    def bump(ch: str) -> str:
        if ch.isdigit():
            return str((int(ch) + 1) % 10)
        base = "a" if ch.islower() else "A"
        return chr((ord(ch) - ord(base) + 1) % 26 + ord(base))

    out = []
    for i in eligible[::5]:
        changed = text[:i] + bump(text[i]) + text[i + 1 :]
        out.append(rebuild(req, [(n, changed if n == SIGN_HEADER else v) for n, v in req.headers]))
    flipped = ("0" if mac[0] != "0" else "1") + mac[1:]
    out.append(rebuild(req, [(n, flipped if n == HASH_HEADER else v) for n, v in req.headers]))
    return out


async def test_a_changed_byte_of_the_signed_header_is_refused(
    wire: Wire, daemon: RunningDaemon
) -> None:
    tried = 0
    for name in CAPTURES:
        for raw in _mutations(wire.capture(name)):
            answer, body = await wire.send(raw)
            assert (answer.status, body["ErrorCode"]) == (401, "vxp.bad-hmac"), (name, body)
            tried += 1
    assert tried > 9 * 5
    assert await daemon.services.store.sent_by(["*"]) == []


async def test_another_systems_secret_is_refused(
    wire: Wire, deployment: DevDeployment, daemon: RunningDaemon
) -> None:
    other = deployment.systems["qlvb.dalat"].secret
    for name in CAPTURES:
        req = wire.capture(name)
        # the captured request, signed with another system's secret
        answer, body = await wire.send(resign(req, other))
        assert (answer.status, body["ErrorCode"]) == (401, "vxp.bad-hmac"), (name, body)
        # the other system's id, signed with the captured secret
        answer, body = await wire.send(resign(req, CAPTURE_SECRET, systemid="qlvb.dalat"))
        assert (answer.status, body["ErrorCode"]) == (401, "vxp.bad-hmac"), (name, body)
    # a system this axis does not know
    req = wire.capture("05-vxp_getAgenciesList.http")
    answer, body = await wire.send(resign(req, CAPTURE_SECRET, systemid="vxp.nobody"))
    assert (answer.status, body["ErrorCode"]) == (401, "vxp.unknown-system")
    # sanity: re-signing with the right secret changes nothing
    answer, body = await wire.send(resign(req, CAPTURE_SECRET))
    assert (answer.status, body["ErrorCode"]) == (200, "0")


async def test_header_values_outside_the_signed_json_are_ignored(
    wire: Wire, daemon: RunningDaemon, deployment: DevDeployment, session: aiohttp.ClientSession
) -> None:
    store = daemon.services.store
    # the captured system has a document and a status waiting
    office = vxp(daemon, deployment, CAPTURE_SYSTEMID)
    mine = document(OFFICE, [DEPT], number="88", notation="VP")
    async with office:
        await office.send_edoc(signed(deployment, OFFICE, build_document(mine)), from_code=OFFICE)
    province = native(daemon, deployment, "qlvb.lamdong", session)
    assert (await province.send(status_bytes(DEPT, mine, "01")))[0] == 201
    assert (await province.send(signed_document(deployment, PROVINCE, [OFFICE])))[0] == 201

    # the list call says messagetype=status and from=000.00.00.H36 outside the signed
    # JSON (which says edoc): the document is listed, not the status
    req = wire.capture("session/02-vxp_getReceivedEdocList.http")
    headers = [
        (n, "status" if n == f"{PREFIX}messagetype" else v)
        for n, v in req.headers
        if n != f"{PREFIX}from"
    ] + [(f"{PREFIX}from", PROVINCE)]
    answer, body = await wire.send(rebuild(req, headers))
    assert (answer.status, body["ErrorCode"]) == (200, "0"), body
    assert [(i["messageType"], i["from"]) for i in body["data"]] == [("edoc", PROVINCE)]

    # sendEdoc: an extra unsigned `XroadVnpt-from: 000.00.00.H36` line; the signed value
    # (000.00.01.H36, the packet's From) wins and the packet is accepted from OFFICE
    data = signed_document(deployment, OFFICE, [CITY], number="89", notation="VP")
    req = send_edoc_request(data, from_code=OFFICE)
    at = next(i for i, (n, _) in enumerate(req.headers) if n == f"{PREFIX}from")
    headers = [*req.headers[:at], (f"{PREFIX}from", PROVINCE), *req.headers[at:]]
    answer, body = await wire.send(rebuild(req, headers))
    assert (answer.status, body["ErrorCode"]) == (200, "0"), body
    assert (await store.get_document(body["DocId"])).sender_code == OFFICE

    # and the other way round: signed from=000.00.00.H36, unsigned header says OFFICE
    data = signed_document(deployment, OFFICE, [CITY], number="90", notation="VP")
    req = send_edoc_request(data, from_code=PROVINCE)
    headers = [(n, OFFICE if n == f"{PREFIX}from" else v) for n, v in req.headers]
    answer, body = await wire.send(rebuild(req, headers))
    assert (answer.status, body["ErrorCode"]) == (403, "auth.from-mismatch"), body


# --------------------------------------------------------------------------- hash-file, from


async def test_a_body_that_does_not_match_hash_file_is_refused(
    wire: Wire, daemon: RunningDaemon, deployment: DevDeployment
) -> None:
    # the captured sendEdoc with one byte of its body changed (same length)
    req = wire.capture("01-vxp_sendEdoc.http")
    body = req.body.replace(b"<x>", b"<y>", 1).replace(b"</x>", b"</y>", 1)
    assert len(body) == len(req.body) and body != req.body
    answer, answer_body = await wire.send(rebuild(req, req.headers, body))
    assert (answer.status, answer_body["ErrorCode"]) == (400, "vxp.hash-mismatch")
    assert answer_body["DocId"] == ""

    # a real, signed packet under the hash-file of another packet
    good = signed_document(deployment, OFFICE, [CITY], number="91", notation="VP")
    other = signed_document(deployment, OFFICE, [CITY], number="92", notation="VP")
    answer, answer_body = await wire.send(
        send_edoc_request(good, from_code=OFFICE, claimed_hash=hash_file(other))
    )
    assert (answer.status, answer_body["ErrorCode"]) == (400, "vxp.hash-mismatch")
    assert await daemon.services.store.list_inbox([CITY]) == []
    # the same packet with its own hash-file goes through
    answer, answer_body = await wire.send(send_edoc_request(good, from_code=OFFICE))
    assert (answer.status, answer_body["ErrorCode"]) == (200, "0"), answer_body


async def test_signed_from_must_be_the_packets_from(
    daemon: RunningDaemon, deployment: DevDeployment
) -> None:
    # qlvb.lamdong speaks for both the province and the department, so this is not a
    # question of permission: the signed `from` and the packet's From disagree
    data = signed_document(deployment, DEPT, [CITY])
    async with vxp(daemon, deployment, "qlvb.lamdong") as province:
        with pytest.raises(PeerError) as refused:
            await province.send_edoc(data, from_code=PROVINCE)
        assert refused.value.details["ErrorCode"] == "auth.from-mismatch"
        assert refused.value.code == "vxp.http-403"
        assert await daemon.services.store.list_inbox([CITY]) == []
        assert await province.send_edoc(data, from_code=DEPT)


# --------------------------------------------------------------------------- the office loop


async def test_office_systems_loop_through_the_sdk_api(
    daemon: RunningDaemon, deployment: DevDeployment
) -> None:
    province = vxp(daemon, deployment, "qlvb.lamdong")
    dalat = vxp(daemon, deployment, "qlvb.dalat")
    ductrong = vxp(daemon, deployment, "qlvb.ductrong")
    async with province, dalat, ductrong:
        doc = document(PROVINCE, [DEPT, CITY], number="301", notation="UBND-VP")
        data = signed(deployment, PROVINCE, build_document(doc))
        doc_id = await province.send_edoc(data, from_code=PROVINCE)
        second = signed_document(deployment, PROVINCE, [CITY], number="302", notation="UBND-VP")
        second_id = await province.send_edoc(second, from_code=PROVINCE)

        # the city: list, fetch (bytes as sent), count
        listed = await dalat.get_received_edoc_list()
        assert [(i.from_code, i.to, i.message_type) for i in listed] == [
            (PROVINCE, CITY, "edoc"),
            (PROVINCE, CITY, "edoc"),
        ]
        first_item, second_item = (i.doc_id for i in listed)
        assert await dalat.get_edoc(first_item) == data
        assert await dalat.count_receive_edoc() == 2

        # another system cannot read it: the same answer as for an id that never existed
        with pytest.raises(PeerError) as theirs:
            await ductrong.get_edoc(first_item)
        with pytest.raises(PeerError) as nothing:
            await ductrong.get_edoc("987654321")
        assert theirs.value.code == nothing.value.code == "vxp.http-404"
        assert theirs.value.details["ErrorCode"] == nothing.value.details["ErrorCode"]
        assert theirs.value.details["ErrorCode"] == "inbox.not-found"

        # the city cannot mark the department's item (the province's): nothing changes
        (dept_item,) = await province.get_received_edoc_list()
        assert dept_item.to == DEPT
        with pytest.raises(PeerError) as not_yours:
            await dalat.update_status(dept_item.doc_id, "done")
        assert not_yours.value.details["ErrorCode"] == "inbox.not-found"
        assert [i.doc_id for i in await province.get_received_edoc_list()] == [dept_item.doc_id]

        # done: the item leaves the list and the count drops
        await dalat.update_status(first_item, "done")
        assert [i.doc_id for i in await dalat.get_received_edoc_list()] == [second_item]
        assert await dalat.count_receive_edoc() == 1
        await dalat.update_status(first_item, "done")  # twice is harmless

        # the city answers with a status packet (messagetype=status): it lands with the
        # province, in its status list, not in its document list
        answer = signed(deployment, CITY, status_bytes(CITY, doc, "03"))
        await dalat.send_edoc(answer, from_code=CITY, messagetype="status")
        assert await province.count_receive_status() == 1
        (status_item,) = await province.get_received_edoc_list("status")
        assert (status_item.from_code, status_item.to, status_item.message_type) == (
            CITY,
            PROVINCE,
            "status",
        )
        assert await province.get_edoc(status_item.doc_id) == answer
        await province.update_status(status_item.doc_id, "done")
        assert await province.count_receive_status() == 0
        assert [i.doc_id for i in await province.get_received_edoc_list()] == [dept_item.doc_id]

        # fail with a reason: the item leaves the list, the sender sees the failure
        await dalat.update_status(second_item, "fail", reason="Sai thể thức văn bản")
        assert await dalat.get_received_edoc_list() == []
        assert await dalat.count_receive_edoc() == 0

        # the sender's view (its client still carries docId from the getEdoc above)
        sent = await province.get_sent_edoc_list()
        by_receiver = {s.receiver_doc_id: s for s in sent}
        assert {s.sender_doc_id for s in sent} == {doc_id, second_id}
        assert by_receiver[first_item].receive_status == "acked"
        assert by_receiver[first_item].received_time != ""
        assert by_receiver[second_item].receive_status == "failed"
        assert by_receiver[second_item].receive_status_desc.endswith("Sai thể thức văn bản")
        assert by_receiver[dept_item.doc_id].receive_status == "pending"
        assert {s.to_code for s in sent if s.sender_doc_id == doc_id} == {DEPT, CITY}
        statuses = await dalat.get_sent_edoc_list("status")
        assert [(s.from_code, s.to_code, s.receive_status) for s in statuses] == [
            (CITY, PROVINCE, "acked")
        ]

        # docId narrows the sent list: this axis's DocId or the edXML DocumentId
        for key in (doc_id, doc.document_id):
            only = await province.get_sent_edoc_list(doc_id=key)
            assert sorted(s.to_code for s in only) == [DEPT, CITY]
            assert {s.sender_doc_id for s in only} == {doc_id}
        assert await province.get_sent_edoc_list(doc_id="01NOTHING0000000000000000X") == []

        # the directory
        agencies = await dalat.get_agencies_list()
        assert {a.code for a in agencies} == {a.code for a in SERVED}
        assert {a.pid for a in agencies if a.code == WARD} == {CITY}
