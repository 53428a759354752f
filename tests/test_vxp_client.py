"""VxpClient against a real aiohttp server on loopback that stands in for a foreign VXP
peer: it records what the client sends and answers with canned envelopes. Also replays
the SDK's captured bytes through aiohttp's real HTTP parser into ``verify_request``."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.vxp.client import VxpClient
from adapters.vxp.protocol import (
    AgencyItem,
    ReceivedItem,
    SignedParams,
    VxpAuthError,
    call_params,
    check_hash_file,
    envelope_fail,
    envelope_ok,
    parse_timestamp,
    unframe_edoc,
    verify_request,
)
from axis_errors import PeerError
from tests.vxp_wire import (
    CAPTURE_SECRET,
    CAPTURE_SYSTEMID,
    WireRequest,
    capture_paths,
    load_capture,
    replay,
)

Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]  # wire order, as received
    body: bytes
    signed: SignedParams | None
    refusal: str | None


def secrets(systemid: str) -> str | None:
    return CAPTURE_SECRET if systemid == CAPTURE_SYSTEMID else None


EDOC = b'<?xml version="1.0" encoding="UTF-8"?>\n<edXML><x>V\xc4\x83n b\xe1\xba\xa3n</x></edXML>\n'


async def default_answer(request: web.Request, body: bytes) -> web.StreamResponse:
    call = request.path.rsplit("/", 1)[-1]
    if call == "sendEdoc":
        return web.json_response(envelope_ok(DocId="cap-1"))
    if call == "getReceivedEdocList":
        item = ReceivedItem("cap-1", "eDoc", "edoc", "t0", "t1", "000.00.01.H36", "x", "s", "d")
        return web.json_response(envelope_ok(data=[item.to_json()]))
    if call == "getEdoc":
        return web.json_response(envelope_ok(data=base64.b64encode(EDOC).decode()))
    if call == "downloadEdoc":
        return web.Response(body=EDOC, content_type="application/xml")
    if call in ("countReceiveEdoc", "countReceiveStatus"):
        return web.json_response(envelope_ok(count=3))
    if call == "getAgenciesList":
        return web.json_response(
            envelope_ok(data=[{"id": 1, "code": "000.00.00.H36", "name": "UBND tỉnh Lâm Đồng"}])
        )
    if call == "getSentEdocList":
        return web.json_response(envelope_ok(data=[{"senderDocId": "s1", "sendStatus": 1}]))
    return web.json_response(envelope_ok())


@dataclass
class Peer:
    port: int
    records: list[Recorded] = field(default_factory=list)
    answer: Handler = default_answer
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/vxp"


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer(port=0)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        signed: SignedParams | None = None
        refusal: str | None = None
        try:
            signed = verify_request(request.headers, secrets)
        except VxpAuthError as exc:
            refusal = exc.code
        headers = [
            (k.decode("latin-1"), v.decode("utf-8", "surrogateescape"))
            for k, v in request.raw_headers
        ]
        state.records.append(Recorded(request.method, request.path, headers, body, signed, refusal))
        return await state.answer(request, body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


def sdk_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers the SDK itself writes (the HTTP library's own are left out)."""
    return [
        (k, v)
        for k, v in headers
        if k.startswith("XroadVnpt-") or k in ("Content-Type", "User-Agent")
    ]


def caseless(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in headers]


@pytest.fixture(scope="module")
def captures(shared_dir: Path) -> dict[tuple[bool, str], WireRequest]:
    out = {}
    for p in capture_paths(shared_dir):
        c = load_capture(p)
        out[(p.parent.name == "session", c.call)] = c
    assert len(out) == 9
    return out


def clock_of(c: WireRequest) -> Callable[[], datetime]:
    at = parse_timestamp(c.header("XroadVnpt-timestamp") or "")
    return lambda: at


# ----------------------------------------------------------------- request shape


async def test_each_call_is_byte_for_byte_the_sdk_request(
    peer: Peer, captures: dict[tuple[bool, str], WireRequest]
) -> None:
    """With the capture's clock and arguments, the SDK-written headers (names, values,
    order) and the body equal the captured request exactly."""
    calls: dict[str, Callable[[VxpClient], Awaitable[Any]]] = {
        "sendEdoc": lambda v: v.send_edoc(
            unframe_edoc(captures[False, "sendEdoc"].body), from_code="000.00.01.H36"
        ),
        "getReceivedEdocList": lambda v: v.get_received_edoc_list(),
        "getEdoc": lambda v: v.get_edoc("cap-1"),
        "updateStatus": lambda v: v.update_status("cap-1", "done"),
        "getAgenciesList": lambda v: v.get_agencies_list(),
    }
    for call, run in calls.items():
        c = captures[False, call]
        async with VxpClient(
            peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET, clock=clock_of(c)
        ) as vxp:
            await run(vxp)
        rec = peer.records[-1]
        assert (rec.method, rec.path) == ("POST", c.path), call
        assert sdk_headers(rec.headers) == sdk_headers(c.headers), call
        assert rec.body == c.body, call
        assert rec.refusal is None and rec.signed is not None


async def test_sticky_client_reproduces_the_session_captures(
    peer: Peer, captures: dict[tuple[bool, str], WireRequest]
) -> None:
    first = captures[True, "sendEdoc"]
    ticks = iter([parse_timestamp(first.header("XroadVnpt-timestamp") or "")])
    async with VxpClient(
        peer.endpoint,
        CAPTURE_SYSTEMID,
        CAPTURE_SECRET,
        clock=lambda: next(ticks),  # read once: the SDK's timestamp lives with the object
        sdk_sticky_params=True,
    ) as vxp:
        assert await vxp.send_edoc(unframe_edoc(first.body), from_code="000.00.01.H36") == "cap-1"
        items = await vxp.get_received_edoc_list()
        data = await vxp.get_edoc(items[0].doc_id)
        await vxp.update_status("cap-1", "done")
    assert data == EDOC
    assert len(peer.records) == 4
    for rec, call in zip(
        peer.records, ["sendEdoc", "getReceivedEdocList", "getEdoc", "updateStatus"], strict=True
    ):
        c = captures[True, call]
        # names compared case-insensitively: aiohttp sends the SDK's XroadVnpt-docid line
        # under the spelling XroadVnpt-docId (see client._same_spelling); values, order and
        # the signed JSON (which keeps the exact case) are identical
        assert caseless(sdk_headers(rec.headers)) == caseless(sdk_headers(c.headers)), call
        assert dict(rec.headers)["XroadVnpt-sign-header"] == c.header("XroadVnpt-sign-header")
        assert rec.body == c.body
    assert rec.signed is not None
    assert rec.signed.params["docId"] == rec.signed.params["docid"] == "cap-1"


async def test_fresh_client_sends_no_leftover_keys_and_a_fresh_timestamp(peer: Peer) -> None:
    moments = iter(datetime(2026, 11, 27, 9, 0, s) for s in range(10))
    async with VxpClient(
        peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET, clock=lambda: next(moments)
    ) as vxp:
        await vxp.send_edoc(EDOC, from_code="000.00.01.H36", to='["000.00.00.G22"]')
        await vxp.get_edoc("d-1")
        await vxp.update_status("d-1", "fail", reason="Sai định dạng")
    signed = [r.signed for r in peer.records]
    assert all(s is not None for s in signed)
    send, get, update = (s for s in signed if s is not None)
    assert set(get.params) == {"systemid", "timestamp", "Content-Type", "docId"}
    assert set(update.params) == {
        "systemid",
        "timestamp",
        "Content-Type",
        "docid",
        "status",
        "reason",
    }
    assert update.params["reason"] == "Sai định dạng"
    assert call_params(update, "updateStatus") == {
        "docid": "d-1",
        "status": "fail",
        "reason": "Sai định dạng",
    }
    assert len({send.timestamp, get.timestamp, update.timestamp}) == 3
    assert send.params["to"] == '["000.00.00.G22"]'
    rec = peer.records[0]
    assert check_hash_file(unframe_edoc(rec.body), send.params["hash-file"])
    assert dict(rec.headers)["Content-Type"] == "application/octet-stream"
    assert rec.headers[1][0] == "Content-Type"  # first after aiohttp's Host, like the SDK


async def test_every_call_verifies_and_decodes(peer: Peer) -> None:
    async with VxpClient(peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET) as vxp:
        assert await vxp.count_receive_edoc() == 3
        assert await vxp.count_receive_status() == 3
        assert await vxp.download_edoc("d-9") == EDOC
        sent = await vxp.get_sent_edoc_list(doc_id="s1")
        agencies = await vxp.get_agencies_list()
    assert sent[0].sender_doc_id == "s1" and sent[0].send_status == "1"
    assert agencies == [AgencyItem("1", "000.00.00.H36", "UBND tỉnh Lâm Đồng")]
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in peer.records]
    assert methods == [
        ("GET", "countReceiveEdoc"),
        ("GET", "countReceiveStatus"),
        ("GET", "downloadEdoc"),
        ("POST", "getSentEdocList"),
        ("POST", "getAgenciesList"),
    ]
    assert all(r.refusal is None for r in peer.records)
    download = peer.records[2].signed
    assert download is not None and call_params(download, "downloadEdoc") == {"docId": "d-9"}


async def test_a_wrong_secret_is_refused_by_the_verifier(peer: Peer) -> None:
    async with VxpClient(peer.endpoint, CAPTURE_SYSTEMID, "not-the-secret") as vxp:
        await vxp.get_agencies_list()
    assert peer.records[0].refusal == "vxp.bad-hmac"


# ----------------------------------------------------------------- error mapping


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_server_down_is_unreachable() -> None:
    async with VxpClient(
        f"http://127.0.0.1:{free_port()}/vxp", CAPTURE_SYSTEMID, CAPTURE_SECRET
    ) as vxp:
        with pytest.raises(PeerError) as info:
            await vxp.get_agencies_list()
    assert info.value.code == "vxp.unreachable"
    assert CAPTURE_SECRET not in str(info.value) + repr(info.value.details) + repr(vxp)


async def test_a_peer_that_never_answers_is_a_timeout(peer: Peer) -> None:
    async def stall(request: web.Request, body: bytes) -> web.StreamResponse:
        await peer.release.wait()
        return web.json_response(envelope_ok())

    peer.answer = stall
    async with VxpClient(peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET, timeout=0.3) as vxp:
        with pytest.raises(PeerError) as info:
            await vxp.get_edoc("d")
    assert info.value.code == "vxp.timeout"
    assert info.value.http_status == 504


async def test_error_code_one_is_peer_fail(peer: Peer) -> None:
    async def refuse(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.json_response(envelope_fail("1", "Văn bản không tồn tại"))

    peer.answer = refuse
    async with VxpClient(peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET) as vxp:
        with pytest.raises(PeerError) as info:
            await vxp.update_status("d", "done")
    assert info.value.code == "vxp.peer-fail"
    assert info.value.details["ErrorCode"] == "1"
    assert info.value.details["ErrorDesc"] == "Văn bản không tồn tại"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (500, b"boom", "vxp.http-500"),
        (503, b'{"status":"FAIL","ErrorCode":"9","ErrorDesc":"busy"}', "vxp.http-503"),
        (200, b"<html>not json</html>", "vxp.bad-answer"),
        (200, b'{"data": []}', "vxp.bad-answer"),
        (200, b'{"status":"OK","ErrorCode":"0","ErrorDesc":""}', "vxp.bad-answer"),
    ],
)
async def test_bad_answers(peer: Peer, status: int, body: bytes, code: str) -> None:
    async def junk(request: web.Request, _body: bytes) -> web.StreamResponse:
        return web.Response(status=status, body=body, content_type="application/json")

    peer.answer = junk
    async with VxpClient(peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET) as vxp:
        with pytest.raises(PeerError) as info:
            await vxp.send_edoc(EDOC, from_code="000.00.01.H36")
    assert info.value.code == code
    if status == 503:
        assert info.value.details["ErrorCode"] == "9"


async def test_answer_size_is_capped(peer: Peer) -> None:
    async with VxpClient(
        peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET, max_answer_bytes=10
    ) as vxp:
        with pytest.raises(PeerError) as info:
            await vxp.download_edoc("d")
    assert info.value.code == "vxp.answer-too-large"


async def test_a_session_passed_in_is_not_closed(peer: Peer) -> None:
    async with aiohttp.ClientSession() as session:
        async with VxpClient(
            peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET, session=session
        ) as vxp:
            await vxp.count_receive_edoc()
        assert not session.closed
    own = VxpClient(peer.endpoint, CAPTURE_SYSTEMID, CAPTURE_SECRET)
    await own.count_receive_edoc()
    opened = own._session
    await own.close()
    assert opened is not None and opened.closed


# ----------------------------------------------------------------- capture replay


async def test_captured_bytes_replayed_verify_through_aiohttp(
    peer: Peer, captures: dict[tuple[bool, str], WireRequest]
) -> None:
    for (session, call), c in sorted(captures.items()):
        resp = await replay(c, "127.0.0.1", peer.port)
        assert resp.status == 200, (session, call)
        rec = peer.records[-1]
        assert rec.refusal is None and rec.signed is not None
        assert rec.body == c.body
        assert rec.path == c.path
        if (c.header("Expect") or "").lower() == "100-continue":
            assert resp.interim == (100,)
    assert len(peer.records) == 9
