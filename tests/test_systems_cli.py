"""``axis systems ...`` through ``axis.cli.main`` against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from axis.cli import main
from axis.config import load_config
from axis.store import System, open_configured_store
from certs import pki


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "axis.toml"
    path.write_text('[axis]\ndata_dir = "data"\n', encoding="utf-8")
    csv_file = tmp_path / "a.csv"
    csv_file.write_text(
        "code,name,tier\n000.00.00.H36,UBND tỉnh,province\n000.01.00.H36,Sở Nội vụ,province\n",
        encoding="utf-8",
    )
    assert main(["agencies", "import", str(csv_file), "--config", str(path)]) == 0
    capsys.readouterr()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lookup(config: Path, systemid: str, token: str) -> tuple[str | None, System | None]:
    async def body() -> tuple[str | None, System | None]:
        store = await open_configured_store(load_config(config, env={}))
        try:
            return await store.get_system_secret(systemid), await store.find_system_by_token(token)
        finally:
            await store.close()

    return asyncio.run(body())


def test_add_prints_credentials_once_and_they_work(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "systems",
        "add",
        "--agency",
        "000.01.00.H36",
        "--agency",
        "000.00.00.h36",
        "--json",
        "--config",
        str(config),
    )
    assert code == 0 and err == ""
    creds = json.loads(out)
    assert set(creds) == {"systemid", "secret", "token"}
    assert creds["systemid"] == "sys.000.01.00.h36"
    assert creds["token"].startswith("axis_")
    secret, system = lookup(config, creds["systemid"], creds["token"])
    assert secret == creds["secret"]
    assert system is not None and system.id == creds["systemid"]
    assert system.patterns == ("000.00.00.H36", "000.01.00.H36")
    assert system.name == "Sở Nội vụ" and system.role == "agency"

    code, out, _ = run(capsys, "systems", "list", "--json", "--config", str(config))
    assert creds["secret"] not in out and creds["token"] not in out
    (listed,) = json.loads(out)
    assert listed["systemid"] == creds["systemid"] and listed["disabled"] is False
    code, out, _ = run(capsys, "systems", "list", "--config", str(config))
    assert creds["secret"] not in out and creds["systemid"] in out


def test_default_ids_do_not_collide_and_explicit_id(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = []
    for _ in range(2):
        code, out, _ = run(
            capsys, "systems", "add", "--agency", "000.01.00.H36", "--json", "--config", str(config)
        )
        ids.append(json.loads(out)["systemid"])
    assert ids == ["sys.000.01.00.h36", "sys.000.01.00.h36-2"]
    code, out, _ = run(
        capsys,
        "systems",
        "add",
        "--agency-pattern",
        "*.H36",
        "--id",
        "vxp.h36.test",
        "--name",
        "Trục tỉnh",
        "--config",
        str(config),
    )
    assert code == 0 and "vxp.h36.test" in out and "not show them again" in out
    code, _, err = run(
        capsys,
        "systems",
        "add",
        "--agency",
        "000.01.00.H36",
        "--id",
        "vxp.h36.test",
        "--config",
        str(config),
    )
    assert code == 2 and "systems.exists" in err


def test_roles_patterns_and_client_certs(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    root = pki.make_root_ca("mTLS Root", now=now, key_type="ec")
    client = pki.issue_client_cert(root, system_id="auditor.h36", now=now, key_type="ec")
    cert_file = tmp_path / "client.pem"
    cert_file.write_bytes(client.cert_pem())
    code, out, _ = run(
        capsys,
        "systems",
        "add",
        "--role",
        "auditor",
        "--id",
        "auditor.h36",
        "--client-cert",
        str(cert_file),
        "--json",
        "--config",
        str(config),
    )
    assert code == 0
    code, out, _ = run(capsys, "systems", "list", "--json", "--config", str(config))
    (listed,) = json.loads(out)
    assert listed["role"] == "auditor" and listed["agencies"] == []
    assert listed["client_cert_sha256"] == client.fingerprint.replace(":", "").lower()


@pytest.mark.parametrize(
    ("args", "code_text"),
    [
        (["--agency", "000.99.00.H36"], "agencies.not-found"),
        ([], "systems.no-agency"),
        (["--agency-pattern", "[AB]*"], "directory.bad-pattern"),
        (["--agency", "000.01.00.H36", "--id", "bad id"], "systems.bad-id"),
    ],
)
def test_refusals(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], code_text: str
) -> None:
    code, out, err = run(capsys, "systems", "add", *args, "--config", str(config))
    assert code == 2 and code_text in err and out == ""
    code, out, _ = run(capsys, "systems", "list", "--json", "--config", str(config))
    assert json.loads(out) == []


def test_disable(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "systems", "add", "--agency", "000.01.00.H36", "--json", "--config", str(config)
    )
    creds = json.loads(out)
    assert run(capsys, "systems", "disable", creds["systemid"], "--config", str(config))[0] == 0
    assert lookup(config, creds["systemid"], creds["token"]) == (None, None)
    code, _, err = run(capsys, "systems", "disable", "nobody", "--config", str(config))
    assert code == 2 and "systems.not-found" in err
