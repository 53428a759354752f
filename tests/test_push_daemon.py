"""Push delivery through a real daemon: an agency switched to push with the CLI, packets
sent over the native API and pushed to a loopback endpoint; dead letters shown to the
admin (API and CLI) and retried from there; pull still works beside push; a restart
resumes what was pending (the truth is in the database)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from axis.app import start_daemon
from axis.cli import main
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.store.deliveries import destination_of
from tests.harness import NOW, Native, native, signed_document
from tests.push_support import receiver, until

WARD = "000.01.30.H36"  # Phường 1: receives by push
CITY = "000.30.00.H36"  # Đà Lạt: receives by pull
FAST = {
    "sweep_interval": 0.05,
    "base_delay": 0.05,
    "max_delay": 0.2,
    "max_attempts": 3,
    "push_timeout": 5.0,
    "breaker_failures": 100,
}


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW, extra={"delivery": FAST}
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


async def admin_get(client: Native, path: str, **params: str) -> Any:
    status, body = await client.get(f"/api/v1/admin{path}", **params)
    assert status == 200, body
    return body


async def admin_post(client: Native, path: str) -> Any:
    async with client.session.post(f"{client.base}/api/v1/admin{path}", headers=client.auth) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_push_through_the_daemon_with_dead_letters_retries_and_a_restart(
    deployment: DevDeployment, session: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(deployment.config_path)
    async with receiver("unknown yet", default="500") as endpoint:
        code, out = await cli(
            capsys,
            "agencies", "set-delivery", WARD, "--push", endpoint.url,
            "--generate-secret", "--json", "--config", config,
        )  # fmt: skip
        assert code == 0
        printed = json.loads(out)
        assert printed["delivery"] == "push" and len(printed["secret"]) >= 32
        endpoint.secret = printed["secret"]
        dest = destination_of("local", endpoint.url)
        assert printed["destination"] == dest

        daemon = await start_daemon(deployment.config)
        try:
            province = native(daemon, deployment, "qlvb.lamdong", session)
            dalat = native(daemon, deployment, "qlvb.dalat", session)
            admin = native(daemon, deployment, "quantri", session)
            data = signed_document(deployment, PROVINCE, [WARD, CITY], number="201")
            status, answer = await province.send(data)
            assert status == 201, answer

            # the endpoint answers 500: three attempts, then a dead letter with its history
            async def dead() -> list[Any]:
                body = await admin_get(admin, "/deliveries", state="dead")
                return list(body["deliveries"])

            await until(lambda: _nonempty(dead()), "a dead letter")
            (letter,) = await dead()
            assert letter["target_code"] == WARD and letter["destination"] == dest
            detail = await admin_get(admin, f"/deliveries/{letter['delivery_id']}")
            assert [a["error_code"] for a in detail["attempts"]] == ["push.http-500"] * 3
            queues = {q["destination"]: q for q in (await admin_get(admin, "/queues"))["queues"]}
            assert queues[dest]["dead"] == 1 and queues[dest]["pending"] == 0
            assert endpoint.bad_signatures == 0 and not endpoint.acked

            # pull stays available: Đà Lạt takes its copy from the inbox as always
            (item,) = await dalat.inbox(agency=CITY)
            assert (await dalat.fetch(item["delivery_id"]))[1] == data

            # the endpoint comes back; the admin retries the dead letter from the API
            endpoint.default = "ok"
            retried = await admin_post(admin, f"/deliveries/{letter['delivery_id']}/retry")
            assert retried["requeued"] is True
            did = str(letter["delivery_id"])
            await until(lambda: _state(admin, did, "acked"), "delivered after the retry")
            assert endpoint.acked[did] == 1
            assert endpoint.bodies[did] == data  # the sender's bytes, exactly
            assert await dalat.inbox(agency=WARD) == []  # pushed: not pending in the inbox
            assert (await dalat.ack(letter["delivery_id"]))[1]["first"] is False

            # a second one dies too, and the CLI retries everything of that destination
            endpoint.default = "500"
            second = signed_document(deployment, PROVINCE, [WARD], number="202")
            assert (await province.send(second))[0] == 201
            await until(lambda: _nonempty(dead()), "a second dead letter")
            code, out = await cli(
                capsys, "deliveries", "list", "--destination", dest, "--state", "dead",
                "--json", "--config", config,
            )  # fmt: skip
            (listed,) = json.loads(out)
            code, out = await cli(capsys, "deliveries", "show", str(listed["delivery_id"]),
                                  "--config", config)  # fmt: skip
            attempts = [line for line in out.splitlines() if line.startswith("  #")]
            assert code == 0 and len(attempts) == 3
            assert all("push.http-500" in line for line in attempts)
            endpoint.default = "ok"
            code, out = await cli(
                capsys, "deliveries", "retry-all", "--destination", dest, "--config", config
            )
            assert code == 0 and out.startswith("1 dead letters")
            did2 = str(listed["delivery_id"])
            await until(lambda: _state(admin, did2, "acked"), "delivered after retry-all")
            assert endpoint.acked[did2] == 1

            # the API's retry-all takes the destination percent-encoded in the path
            encoded = quote(dest, safe="")
            assert (await admin_post(admin, f"/queues/{encoded}/retry-all"))["requeued"] == 0

            # a packet in flight when the daemon stops is given back, not lost
            endpoint.default = "hold"
            third = signed_document(deployment, PROVINCE, [WARD], number="203")
            assert (await province.send(third))[0] == 201
            await until(lambda: _true(endpoint.active == 1), "the push in flight")
        finally:
            await daemon.stop()
        assert len(endpoint.acked) == 2

        endpoint.default = "ok"
        daemon = await start_daemon(deployment.config)
        try:
            await until(lambda: _true(len(endpoint.acked) == 3), "resumed after the restart")
        finally:
            await daemon.stop()
        assert set(endpoint.acked.values()) == {1}  # none twice, none lost
        assert endpoint.bad_signatures == 0


async def _nonempty(value: Any) -> bool:
    return bool(await value)


async def _state(admin: Native, delivery_id: str, state: str) -> bool:
    detail = await admin_get(admin, f"/deliveries/{delivery_id}")
    return bool(detail["delivery"]["state"] == state)


async def _true(value: bool) -> bool:
    return value
