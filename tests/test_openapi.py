"""The OpenAPI document served at ``/api/v1/openapi.json`` is kept true.

(a) The operations it lists are exactly the (method, path) pairs the app routes under
    ``/api/v1``; every ``{name}`` in a path is a declared path parameter.
(b) Real answers of a real daemon (success and errors: 400, 401 without a token, 403 for
    the wrong role, 404, 422) are validated with ``jsonschema`` against the document's
    response schema for that status, ``$ref`` resolved in the document's components.
    Objects are checked closed: a field the API returns but the document does not name
    fails. Each operation answers with every status the document declares for it, and
    with no other; the JSON request bodies the test sends validate against the document.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from edxml.builder import build_document
from tests.harness import NOW, document, signed_document

PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
DOC_URI = "urn:axis:openapi"
DEPT = "000.01.00.H36"
CITY = "000.30.00.H36"
WARD = "000.01.30.H36"


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW
    )


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(deployment.config)
    yield d
    await d.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def spec(daemon: RunningDaemon, session: aiohttp.ClientSession) -> dict[str, Any]:
    async with session.get(f"{daemon.base_url}{PREFIX}/openapi.json") as r:
        assert r.status == 200 and r.content_type == "application/json"
        doc: dict[str, Any] = await r.json()
    return doc


# --------------------------------------------------------------------------- (a) routes


def _normalize(path: str) -> str:
    """aiohttp's ``{name:regex}`` -> ``{name}``."""
    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", r"{\1}", path)


def app_operations(daemon: RunningDaemon) -> set[tuple[str, str]]:
    ops = set()
    for route in daemon.runner.app.router.routes():
        if route.resource is None or route.method in ("HEAD", "*"):
            continue  # HEAD comes with every GET
        path = _normalize(route.resource.canonical)
        if path == PREFIX or path.startswith(PREFIX + "/"):
            ops.add((route.method.lower(), path))
    return ops


def document_operations(doc: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(m, path) for path, item in doc["paths"].items() for m in item if m in METHODS}


async def test_the_document_lists_exactly_the_routes_served(
    daemon: RunningDaemon, spec: dict[str, Any]
) -> None:
    served = app_operations(daemon)
    assert len(served) >= 12
    assert document_operations(spec) == served
    for path, item in spec["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            if method not in METHODS:
                continue
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_every_component_schema_is_valid_json_schema(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises SchemaError naming the fault


# --------------------------------------------------------------------------- (b) answers


def _closed(node: Any) -> Any:
    """A copy where every object schema with ``properties`` forbids other properties."""
    if isinstance(node, list):
        return [_closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _closed(v) for k, v in node.items()}
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Api:
    """Calls the daemon and checks each answer against the served document."""

    base: str
    session: aiohttp.ClientSession
    doc: dict[str, Any]
    tokens: Mapping[str, str]
    seen: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    registry: Registry[Any] = field(init=False)

    def __post_init__(self) -> None:
        resource = Resource.from_contents(_closed(self.doc), default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)

    def validate(self, instance: Any, *location: str) -> None:
        """Validate against the schema at ``location`` in the document."""
        ref = {"$ref": f"{DOC_URI}#{_pointer(*location)}"}
        errors = list(Draft202012Validator(ref, registry=self.registry).iter_errors(instance))
        assert not errors, f"{'/'.join(location)}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )

    async def call(
        self,
        method: str,
        template: str,
        expect: int,
        *,
        who: str | None = None,
        path: Mapping[str, str | int] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
    ) -> Any:
        op = self.doc["paths"][template][method]
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        kwargs: dict[str, Any] = {"headers": headers, "params": query or {}}
        if json_body is not None:
            kwargs["json"] = json_body
            if expect < 300:  # what we send on success is what the document describes
                self.validate(
                    json_body,
                    "paths",
                    template,
                    method,
                    "requestBody",
                    "content",
                    "application/json",
                    "schema",
                )
        elif data is not None:
            kwargs["data"] = data
            assert "application/xml" in op["requestBody"]["content"]
        url = self.base + template.format(**(path or {}))
        async with self.session.request(method.upper(), url, **kwargs) as r:
            status, ctype, payload = r.status, r.content_type, await r.read()
        assert status == expect, (method, template, status, payload[:300])
        self.seen[(method, template)].add(status)
        response = op["responses"].get(str(status))
        assert response is not None, f"{method} {template}: {status} is not documented"
        content = response.get("content", {})
        assert ctype in content, f"{method} {template} {status}: {ctype} not documented"
        if ctype != "application/json":
            return payload
        answer = json.loads(payload)
        self.validate(
            answer, "paths", template, method, "responses", str(status), "content", ctype, "schema"
        )
        if status >= 400:
            assert answer["error"]["code"] and answer["error"]["message"]
        if status == 401:
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
        return answer


@pytest.fixture
def api(
    daemon: RunningDaemon,
    deployment: DevDeployment,
    session: aiohttp.ClientSession,
    spec: dict[str, Any],
) -> Api:
    tokens = {sid: c.token for sid, c in deployment.systems.items()}
    return Api(daemon.base_url, session, spec, tokens)


async def test_real_answers_match_the_document(api: Api, deployment: DevDeployment) -> None:
    P = PREFIX
    agency, city, auditor, admin = "qlvb.lamdong", "qlvb.dalat", "kiemtoan", "quantri"

    await api.call("get", f"{P}/openapi.json", 200)

    # --- packets
    packets = f"{P}/packets"
    data = signed_document(deployment, PROVINCE, [DEPT, CITY])
    sent = await api.call("post", packets, 201, who=agency, data=data)
    assert sent["signer"]["organ_id"] == PROVINCE
    await api.call("post", packets, 200, who=agency, data=data)  # the duplicate
    unsigned = build_document(document(CITY, [WARD], number="5", notation="UBND"))
    assert (await api.call("post", packets, 201, who=city, data=unsigned))["signer"] is None
    await api.call("post", packets, 401, data=data)
    await api.call("post", packets, 403, who=auditor, data=data)  # role
    await api.call("post", packets, 403, who=city, data=data)  # forged From
    await api.call("post", packets, 400, who=agency, data=b"<not xml")
    tampered = data.replace(b"UBND-VP", b"UBND-VX", 1)
    assert tampered != data
    await api.call("post", packets, 422, who=agency, data=tampered)  # signature
    await api.call("post", packets, 422, who=agency, data=b"<edXML/>")  # schema

    # --- inbox
    inbox = f"{P}/inbox"
    items = (await api.call("get", inbox, 200, who=city))["items"]
    assert {i["to"] for i in items} == {CITY, WARD}
    await api.call("get", inbox, 200, who=city, query={"kind": "status", "agency": WARD})
    await api.call("get", inbox, 400, who=city, query={"kind": "letters"})
    await api.call("get", inbox, 400, who=city, query={"limit": "many"})
    await api.call("get", inbox, 401)
    await api.call("get", inbox, 403, who=auditor)
    await api.call("get", inbox, 403, who=city, query={"agency": DEPT})

    item = f"{P}/inbox/{{delivery_id}}"
    mine = {"delivery_id": items[0]["delivery_id"]}
    assert await api.call("get", item, 200, who=city, path=mine) == data
    await api.call("get", item, 401, path=mine)
    await api.call("get", item, 403, who=auditor, path=mine)
    await api.call("get", item, 404, who=agency, path=mine)  # not its agency's
    await api.call("get", item, 404, who=city, path={"delivery_id": 999999})
    await api.call("get", item, 404, who=city, path={"delivery_id": "abc"})

    ack = f"{P}/inbox/{{delivery_id}}/ack"
    assert (await api.call("post", ack, 200, who=city, path=mine))["first"] is True
    assert (await api.call("post", ack, 200, who=city, path=mine))["first"] is False
    await api.call("post", ack, 401, path=mine)
    await api.call("post", ack, 403, who=auditor, path=mine)
    await api.call("post", ack, 404, who=agency, path=mine)

    # --- trace
    trace = f"{P}/documents/{{document_id}}/trace"
    doc_id = {"document_id": sent["document_id"]}
    answer = await api.call("get", trace, 200, who=agency, path=doc_id)
    assert answer["document"]["document_id"] == sent["document_id"]
    await api.call("get", trace, 200, who=auditor, path=doc_id)
    await api.call("get", trace, 401, path=doc_id)
    not_visible = await api.call("get", trace, 404, who="qlvb.ductrong", path=doc_id)
    unknown = await api.call("get", trace, 404, who=agency, path={"document_id": "01NOPE"})
    # not visible and not existing read alike: the answer leaks no existence
    assert not_visible["error"]["code"] == unknown["error"]["code"]

    # --- the axis's signed receipt (the send answer carries one too)
    receipt = f"{P}/documents/{{document_id}}/receipt"
    assert sent["receipt"].startswith("<?xml")
    xml = await api.call("get", receipt, 200, who=agency, path=doc_id)
    assert b"<ds:Signature" in xml and sent["document_id"].encode() in xml
    await api.call("get", receipt, 401, path=doc_id)
    await api.call("get", receipt, 404, who="qlvb.ductrong", path=doc_id)

    # --- directory (admin, auditor)
    agencies = f"{P}/agencies"
    listed = await api.call("get", agencies, 200, who=auditor)
    assert {a["code"] for a in listed["agencies"]} == {a.code for a in AGENCIES}
    await api.call("get", agencies, 200, who=admin)
    await api.call("get", agencies, 401)
    await api.call("get", agencies, 403, who=agency)

    one = f"{P}/agencies/{{code}}"
    await api.call("get", one, 200, who=auditor, path={"code": CITY})
    await api.call("get", one, 401, path={"code": CITY})
    await api.call("get", one, 403, who=city, path={"code": CITY})
    await api.call("get", one, 404, who=admin, path={"code": "000.99.00.H36"})

    new = {
        "code": "000.04.00.H36",
        "name": "Sở Y tế tỉnh Lâm Đồng",
        "tier": "province",
        "parent": PROVINCE,
    }
    put = await api.call("put", one, 200, who=admin, path={"code": new["code"]}, json_body=new)
    assert put["code"] == new["code"] and put["status"] == "active"
    await api.call("put", one, 400, who=admin, path={"code": new["code"]}, json_body=[1])
    bad_tier = new | {"tier": "village"}
    await api.call("put", one, 400, who=admin, path={"code": new["code"]}, json_body=bad_tier)
    # the body may not name another agency than the path
    other = new | {"code": "000.05.00.H36"}
    await api.call("put", one, 400, who=admin, path={"code": new["code"]}, json_body=other)
    await api.call("get", one, 404, who=admin, path={"code": "000.05.00.H36"})
    await api.call("put", one, 401, path={"code": new["code"]}, json_body=new)
    await api.call("put", one, 403, who=auditor, path={"code": new["code"]}, json_body=new)

    # --- systems (admin)
    systems = f"{P}/systems"
    listed = await api.call("get", systems, 200, who=admin)
    assert {s["systemid"] for s in listed["systems"]} == set(SYSTEMS)
    await api.call("get", systems, 401)
    await api.call("get", systems, 403, who=auditor)
    body = {"agencies": [new["code"]], "name": "QLVB Sở Y tế", "systemid": "qlvb.soyte"}
    created = await api.call("post", systems, 201, who=admin, json_body=body)
    assert created["systemid"] == "qlvb.soyte" and created["secret"] and created["token"]
    await api.call("post", systems, 400, who=admin, json_body=body)  # exists
    await api.call("post", systems, 400, who=admin, json_body={"agencies": []})
    await api.call("post", systems, 401, json_body=body)
    await api.call("post", systems, 403, who=auditor, json_body=body)

    # --- reports (auditor, admin)
    report = f"{P}/reports/exchange"
    answer = await api.call("get", report, 200, who=auditor, query={"by": "tier"})
    assert answer["total"]["sent"] == 2
    for by in ("agency", "day", "month", "all"):
        await api.call("get", report, 200, who=admin, query={"by": by, "from": "2020-01-01"})
    await api.call("get", report, 400, who=auditor, query={"by": "week"})
    await api.call("get", report, 400, who=auditor, query={"from": "27/11/2026"})
    await api.call("get", report, 401)
    await api.call("get", report, 403, who=agency)
    tree = await api.call("get", report, 200, who=auditor, query={"by": "tree"})
    assert sum(n["rollup"]["sent"] for n in tree["tree"]) == tree["total"]["sent"]
    signatures = f"{P}/reports/signatures"
    sig = await api.call("get", signatures, 200, who=auditor, query={"by": "month"})
    assert sig["total"]["total"] == 2 and sig["total"]["valid"] == 1
    await api.call(
        "get", signatures, 200, who=admin, query={"recipient_tier": "province", "agency": PROVINCE}
    )
    await api.call("get", signatures, 400, who=auditor, query={"recipient_tier": "moon"})
    await api.call("get", signatures, 401)
    await api.call("get", signatures, 403, who=agency)

    # --- delivery queues (admin, auditor; acting: admin) -- axis.api.admin
    queues = f"{P}/admin/queues"
    await api.call("get", queues, 200, who=admin)
    await api.call("get", queues, 200, who=auditor, query={"include_pull": "true"})
    await api.call("get", queues, 401)
    await api.call("get", queues, 403, who=agency)
    listing = f"{P}/admin/deliveries"
    await api.call("get", listing, 200, who=admin, query={"state": "pending", "limit": "5"})
    await api.call("get", listing, 400, who=admin, query={"state": "lost"})
    await api.call("get", listing, 401)
    await api.call("get", listing, 403, who=agency)
    shown = f"{P}/admin/deliveries/{{delivery_id}}"
    await api.call("get", shown, 200, who=auditor, path=mine)
    await api.call("get", shown, 401, path=mine)
    await api.call("get", shown, 403, who=agency, path=mine)
    await api.call("get", shown, 404, who=admin, path={"delivery_id": 999999})
    retry = f"{P}/admin/deliveries/{{delivery_id}}/retry"
    assert (await api.call("post", retry, 200, who=admin, path=mine))["requeued"] is False
    await api.call("post", retry, 401, path=mine)
    await api.call("post", retry, 403, who=auditor, path=mine)
    await api.call("post", retry, 404, who=admin, path={"delivery_id": 999999})
    retry_all = f"{P}/admin/queues/{{destination}}/retry-all"
    national = {"destination": "national"}
    assert (await api.call("post", retry_all, 200, who=admin, path=national))["requeued"] == 0
    await api.call("post", retry_all, 401, path=national)
    await api.call("post", retry_all, 403, who=auditor, path=national)

    # every operation was exercised, with every status it documents and no other
    documented = {
        (m, p): {int(s) for s in op["responses"]}
        for p, item in api.doc["paths"].items()
        for m, op in item.items()
        if m in METHODS
    }
    gaps = {
        f"{m.upper()} {p}": {
            "documented, not driven": sorted(d - got),
            "not documented": sorted(got - d),
        }
        for (m, p), d in documented.items()
        if d != (got := api.seen.get((m, p), set()))
    }
    # a new operation (or status) must be driven above, with a real request, to be checked
    assert not gaps, gaps
    assert set(api.seen) <= set(documented)


async def test_closed_checking_catches_an_undocumented_field(api: Api) -> None:
    """The checker is not a rubber stamp: an extra field or a wrong type fails."""
    good = {"delivery_id": 1, "acknowledged": True, "first": True}
    api.validate(good, "components", "schemas", "Ack")
    for bad in (good | {"secret": "x"}, good | {"first": "yes"}, {"delivery_id": 1}):
        with pytest.raises(AssertionError):
            api.validate(bad, "components", "schemas", "Ack")
    # through a $ref into the components: a nested item with a wrong type fails
    location = ["paths", f"{PREFIX}/inbox", "get", "responses", "200", "content"]
    location += ["application/json", "schema"]
    api.validate({"items": []}, *location)
    with pytest.raises(AssertionError, match="delivery_id"):
        api.validate({"items": [{"delivery_id": "1"}]}, *location)
