"""bench.httpload, the benchmarks' lean HTTP/1.1 client, against a real aiohttp server
on loopback: bodies both ways, keep-alive, chunked answers, servers that close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.httpload import Connection, ConnectionPool


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[object]]]:
    peers: list[object] = []

    async def echo(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        body = await request.read()
        return web.json_response(
            {
                "size": len(body),
                "auth": request.headers.get("Authorization"),
                "tail": body[-3:].hex(),
            },
            status=201,
        )

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    async def closing(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.Response(text="bye", status=503, headers={"Connection": "close"})

    app = web.Application(client_max_size=1 << 21)
    app.router.add_post("/echo", echo)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/closing", closing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port, peers
    finally:
        await runner.cleanup()


async def test_a_large_body_goes_out_and_the_answer_comes_back(
    server: tuple[int, list[object]],
) -> None:
    port, peers = server
    conn = Connection("127.0.0.1", port)
    body = bytes(range(256)) * 400  # 100 KB
    answers = [
        await conn.request("POST", "/echo", {"Authorization": "Bearer t"}, body) for _ in range(3)
    ]
    await conn.close()
    for a in answers:
        assert a.status == 201
        assert a.headers["content-type"].startswith("application/json")
        assert a.body == b'{"size": 102400, "auth": "Bearer t", "tail": "fdfeff"}'
    assert len(set(peers)) == 1  # one connection, kept alive


async def test_a_chunked_answer_is_read_whole(server: tuple[int, list[object]]) -> None:
    port, _ = server
    conn = Connection("127.0.0.1", port)
    first = await conn.request("GET", "/chunked", {})
    second = await conn.request("GET", "/chunked", {})  # the stream stays in step
    await conn.close()
    assert first.status == second.status == 200
    assert first.body == second.body == b"one,two,three"


async def test_a_closing_server_gets_a_new_connection_next_time(
    server: tuple[int, list[object]],
) -> None:
    port, peers = server
    conn = Connection("127.0.0.1", port)
    bye = await conn.request("GET", "/closing", {})
    again = await conn.request("POST", "/echo", {}, b"abc")
    await conn.close()
    assert (bye.status, bye.body) == (503, b"bye")
    assert again.status == 201
    assert len(set(peers)) == 2  # the second request came on a new connection


async def test_the_pool_never_uses_more_connections_than_its_size(
    server: tuple[int, list[object]],
) -> None:
    port, peers = server
    pool = ConnectionPool("127.0.0.1", port, 3)
    answers = await asyncio.gather(
        *(pool.request("POST", "/echo", {}, b"x" * i) for i in range(30))
    )
    await pool.close()
    assert sorted(int(a.body.split(b'"size": ')[1].split(b",")[0]) for a in answers) == list(
        range(30)
    )
    assert len(set(peers)) == 3
