"""``axis agencies ...`` through ``axis.cli.main`` against a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from axis.cli import main
from certs import pki

CSV = """code,name,tier,parent
000.00.00.H36,UBND tỉnh Lâm Đồng,province,
000.01.00.H36,Sở Nội vụ,province,000.00.00.H36
000.00.31.H36,UBND huyện Đức Trọng,district,000.00.00.H36
000.31.31.H36,UBND xã Hiệp An,commune,000.00.31.H36
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "axis.toml"
    path.write_text('[axis]\ndata_dir = "data"\n', encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_list_show(tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    code, out, _ = run(capsys, "agencies", "import", str(csv_file), "--config", str(config))
    assert code == 0 and "Imported 4 agencies" in out
    assert (tmp_path / "data" / "axis.db").is_file()

    code, out, _ = run(capsys, "agencies", "list", "--json", "--config", str(config))
    listed = json.loads(out)
    assert [a["code"] for a in listed] == [
        "000.00.00.H36",
        "000.00.31.H36",
        "000.01.00.H36",
        "000.31.31.H36",
    ]
    code, out, _ = run(
        capsys, "agencies", "list", "--tier", "commune", "--json", "--config", str(config)
    )
    assert [a["name"] for a in json.loads(out)] == ["UBND xã Hiệp An"]

    code, out, _ = run(
        capsys, "agencies", "show", "000.31.31.h36", "--json", "--config", str(config)
    )
    shown = json.loads(out)
    assert shown["tier"] == "commune" and shown["parent"] == "000.00.31.H36"
    assert shown["certificates"] == []

    code, out, _ = run(capsys, "agencies", "list", "--config", str(config))
    assert code == 0 and "UBND xã Hiệp An" in out and "4 agencies" in out


def test_import_json_and_config_from_environment(
    tmp_path: Path,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AXIS_CONFIG", str(config))
    data = [
        {"code": "000.00.00.G22", "name": "Văn phòng Chính phủ", "tier": "central"},
        {"code": "000.00.00.H36", "name": "UBND tỉnh", "tier": "province"},
    ]
    path = tmp_path / "dir.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, out, _ = run(capsys, "agencies", "import", str(path))
    assert code == 0 and "Imported 2" in out
    code, out, _ = run(capsys, "agencies", "show", "000.00.00.G22")
    assert code == 0 and "Văn phòng Chính phủ" in out and "central" in out


def test_bad_import_names_the_line_and_writes_nothing(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV + "000.99.00.H36,Sở X,ministry,\n", encoding="utf-8")
    code, _, err = run(capsys, "agencies", "import", str(path), "--config", str(config))
    assert code == 2
    assert "directory.bad-row" in err and "line 6" in err and "ministry" in err
    code, out, _ = run(capsys, "agencies", "list", "--json", "--config", str(config))
    assert json.loads(out) == []
    code, _, err = run(
        capsys, "agencies", "import", str(tmp_path / "missing.csv"), "--config", str(config)
    )
    assert code == 2 and "does not exist" in err


def test_add_cert_close_and_unknown(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(config)]
    assert (
        run(
            capsys, "agencies", "add", "000.00.00.H36", "--name", "UBND", "--tier", "province", *cfg
        )[0]
        == 0
    )
    code, _, _ = run(
        capsys,
        "agencies",
        "add",
        "000.00.32.H36",
        "--name",
        "Huyện B",
        "--tier",
        "district",
        "--parent",
        "000.00.00.H36",
        *cfg,
    )
    assert code == 0

    now = datetime.now(UTC)
    root = pki.make_root_ca("CLI Root", now=now, key_type="ec")
    leaf = pki.issue_signing_cert(
        root, organ_id="000.00.00.H36", name="UBND", now=now, key_type="ec"
    )
    cert_file = tmp_path / "ubnd.pem"
    cert_file.write_bytes(leaf.cert_pem())
    code, out, _ = run(capsys, "agencies", "add-cert", "000.00.00.H36", str(cert_file), *cfg)
    fp = leaf.fingerprint.replace(":", "").lower()
    assert code == 0 and fp in out
    code, out, _ = run(capsys, "agencies", "show", "000.00.00.H36", "--json", *cfg)
    assert [c["sha256"] for c in json.loads(out)["certificates"]] == [fp]

    code, out, _ = run(
        capsys, "agencies", "close", "000.00.32.H36", "--successor", "000.00.00.H36", *cfg
    )
    assert code == 0 and "000.00.00.H36" in out
    code, out, _ = run(capsys, "agencies", "show", "000.00.32.H36", "--json", *cfg)
    shown = json.loads(out)
    assert shown["status"] == "closed" and shown["successor"] == "000.00.00.H36"

    code, _, err = run(capsys, "agencies", "show", "000.00.99.H36", *cfg)
    assert code == 2 and "agencies.not-found" in err
    code, _, err = run(
        capsys, "agencies", "close", "000.00.00.H36", "--successor", "000.00.99.H36", *cfg
    )
    assert code == 2 and "000.00.99.H36" in err
    code, _, err = run(
        capsys, "agencies", "add", "bad code", "--name", "x", "--tier", "commune", *cfg
    )
    assert code == 2 and "directory.bad-row" in err


def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "axis.toml"
    path.write_text("[server]\nprot = 1\n", encoding="utf-8")
    code, _, err = run(capsys, "agencies", "list", "--config", str(path))
    assert code == 2 and "config.unknown-key" in err and "server.prot" in err
