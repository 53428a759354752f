"""``axis validate``: kind, type/code, every problem, exit status 0/1/2, JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from axis.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    status = main(["validate", "--json", *args])
    out = capsys.readouterr().out
    return status, json.loads(out)


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("edoc_update.edxml", "business_type", 2),
        ("edoc_revocation.edxml", "business_type", 1),
        ("edoc_replacement.edxml", "business_type", 3),
        ("status_cancellation_13.edxml", "status_code", "13"),
        ("status_change-rejection_16.edxml", "status_code", "16"),
    ],
)
def test_valid_samples(
    capsys: pytest.CaptureFixture[str], samples_dir: Path, name: str, key: str, value: object
) -> None:
    status, report = run_json(capsys, str(samples_dir / name))
    assert status == 0
    assert report == {
        "file": str(samples_dir / name),
        "kind": "status" if key == "status_code" else "document",
        key: value,
        "valid": True,
        "problems": [],
    }


def test_text_output_for_a_valid_packet(
    capsys: pytest.CaptureFixture[str], samples_dir: Path
) -> None:
    assert main(["validate", str(samples_dir / "status_finish_06.edxml")]) == 0
    out = capsys.readouterr().out
    assert "status, status code 06" in out
    assert out.strip().endswith("valid")


def test_schema_and_content_problems_are_all_listed(
    capsys: pytest.CaptureFixture[str], samples_dir: Path, tmp_path: Path
) -> None:
    data = (samples_dir / "edoc_update.edxml").read_bytes()
    bad = (
        data.replace(b"edXML:Subject>", b"edXML:Subjekt>")  # schema error + missing Subject
        .replace(b"<edXML:PromulgationDate>2018/09/28<", b"<edXML:PromulgationDate>2099/01/01<")
        .replace(b"<edXML:CodeNumber>7816<", b"<edXML:CodeNumber>123456789012<")
    )
    path = tmp_path / "bad.edxml"
    path.write_bytes(bad)
    status, report = run_json(capsys, str(path), "--today", "2025-07-01")
    assert status == 1
    assert report["valid"] is False
    assert report["business_type"] == 2
    problems = report["problems"]
    assert isinstance(problems, list)
    assert [(p["code"], p["element"]) for p in problems] == [
        ("schema.invalid", "edXML:Subjekt"),
        ("packet.too-long", "MessageHeader/Code/CodeNumber"),
        ("packet.future-date", "MessageHeader/PromulgationInfo/PromulgationDate"),
        ("packet.missing-field", "MessageHeader/Subject"),
    ]
    assert problems[0]["message"].startswith("line ")

    assert main(["validate", str(path), "--today", "2025-07-01"]) == 1
    out = capsys.readouterr().out
    assert "document, business type 2" in out
    assert "4 problems:" in out
    assert "[packet.future-date] MessageHeader/PromulgationInfo/PromulgationDate" in out


def test_future_date_depends_on_today(
    capsys: pytest.CaptureFixture[str], samples_dir: Path
) -> None:
    path = str(samples_dir / "edoc_update.edxml")  # promulgated 2018/09/28
    assert main(["validate", path, "--today", "2018-09-28"]) == 0
    assert main(["validate", path, "--today", "2018-09-27"]) == 1
    assert "packet.future-date" in capsys.readouterr().out


def test_junk_before_declaration_is_unusable(
    capsys: pytest.CaptureFixture[str], samples_dir: Path
) -> None:
    path = samples_dir / "edoc_new.edxml"
    status, report = run_json(capsys, str(path))
    assert status == 2
    assert report["kind"] is None
    assert report["valid"] is False
    assert report["problems"] == [
        {
            "code": "xml.malformed",
            "element": "edXML",
            "message": "4 byte(s) of content (b'1212') come before the XML declaration at "
            "byte offset 4; the packet must start with the XML declaration.",
        }
    ]
    assert main(["validate", str(path)]) == 2
    assert "[xml.malformed]" in capsys.readouterr().err


def test_missing_file_is_unusable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope.edxml")]) == 2
    assert "input.unreadable" in capsys.readouterr().err


def test_subprocess(samples_dir: Path, tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "axis", "validate", "--json", str(samples_dir / "status.edxml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status_code"] == "01"

    hostile = tmp_path / "laughs.edxml"
    hostile.write_bytes(b'<!DOCTYPE a [<!ENTITY a "aaaa">]><a>&a;</a>')
    refused = subprocess.run(
        [sys.executable, "-m", "axis", "validate", str(hostile)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert refused.returncode == 2
    assert "xml.entity-forbidden" in refused.stderr
