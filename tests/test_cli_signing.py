"""``axis sign`` / ``axis verify`` driven through ``axis.cli.main`` with a development
PKI written by ``certs.devpki.init_dev_pki``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from axis.cli import main
from certs.devpki import DevPki, init_dev_pki
from tests._signing_support import load_sample

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
AT = ["--at", NOW.isoformat()]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return init_dev_pki(tmp_path_factory.mktemp("pki"), now=NOW)


@pytest.fixture
def packet(tmp_path: Path, samples_dir: Path) -> Path:
    path = tmp_path / "status.edxml"
    path.write_bytes(load_sample(samples_dir, "status_acceptance_03.edxml"))
    return path


def sign(dev: DevPki, src: Path, out: Path, who: str = "agency", *extra: str) -> Path:
    files = {"agency": dev.agencies[0], "revoked": dev.revoked, "expired": dev.expired}[who]
    status = main(
        [
            "sign",
            str(src),
            "--key",
            str(files.key),
            "--cert",
            str(files.cert),
            "--chain",
            str(dev.issuing.cert),
            *extra,
            "-o",
            str(out),
        ]
    )
    assert status == 0
    return out


def verify_json(
    dev: DevPki, path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    status = main(["verify", str(path), "--trust", str(dev.root_cert), *AT, "--json", *extra])
    return status, json.loads(capsys.readouterr().out)


def test_sign_then_verify_is_valid(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = sign(dev, packet, tmp_path / "signed.edxml")
    status, out = verify_json(dev, signed, capsys)
    assert status == 0
    assert out["verdict"] == "valid"
    signer = out["signer"]
    assert isinstance(signer, dict)
    assert signer["organ_id"] == dev.agencies[0].organ_id
    assert out["reasons"]


def test_human_output_names_the_signer(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = sign(dev, packet, tmp_path / "signed.edxml", "agency", "--algorithm", "rsa-pss-sha256")
    capsys.readouterr()
    assert main(["verify", str(signed), "--trust", str(dev.root_cert), *AT]) == 0
    text = capsys.readouterr().out
    assert ": valid" in text
    assert "sha256-rsa-MGF1" in text
    assert f"OrganId:   {dev.agencies[0].organ_id}" in text


def test_pss_policy(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = sign(dev, packet, tmp_path / "signed.edxml")  # rsa-sha256
    status, out = verify_json(dev, signed, capsys, "--policy", "circular-15-2025")
    assert (status, out["verdict"]) == (1, "invalid")


def test_tampered_is_invalid(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = sign(dev, packet, tmp_path / "signed.edxml")
    signed.write_bytes(signed.read_bytes().replace(b"StatusCode>03<", b"StatusCode>02<"))
    status, out = verify_json(dev, signed, capsys)
    assert status == 1
    assert out["verdict"] == "invalid"
    assert out["signer"] is None


def test_revoked_with_crl(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = sign(dev, packet, tmp_path / "signed.edxml", "revoked")
    status, out = verify_json(dev, signed, capsys, "--crl", str(dev.crl_pem))
    assert (status, out["verdict"]) == (1, "revoked")
    status, out = verify_json(dev, signed, capsys, "--crl", str(dev.crl_der))
    assert (status, out["verdict"]) == (1, "revoked")


def test_expired(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = sign(dev, packet, tmp_path / "signed.edxml", "expired")
    status, out = verify_json(dev, signed, capsys)
    assert (status, out["verdict"]) == (1, "expired")


def test_legacy_sample(dev: DevPki, samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = verify_json(dev, samples_dir / "edoc_update.edxml", capsys)
    assert (status, out["verdict"], out["signer"]) == (1, "legacy-unverifiable", None)


def test_trust_file_with_a_chain(
    dev: DevPki, packet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ca-chain.pem holds the issuing CA (an intermediate) then the root (the anchor)."""
    out_path = tmp_path / "signed.edxml"
    files = dev.agencies[1]
    assert main(["sign", str(packet), "--key", str(files.key), "--cert", str(files.cert),
                 "-o", str(out_path)]) == 0  # fmt: skip
    capsys.readouterr()
    status = main(["verify", str(out_path), "--trust", str(dev.ca_chain), *AT, "--json"])
    assert status == 0, capsys.readouterr().out


def test_unusable_input_exits_2(
    dev: DevPki, tmp_path: Path, packet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.edxml"
    garbage.write_bytes(b"<edXML><unclosed>")
    assert main(["verify", str(garbage), "--trust", str(dev.root_cert)]) == 2
    assert main(["verify", str(tmp_path / "missing"), "--trust", str(dev.root_cert)]) == 2
    # a trust file without any self-signed certificate: no anchor
    assert main(["verify", str(packet), "--trust", str(dev.issuing.cert)]) == 2
    assert main(["verify", str(packet), "--trust", str(dev.root_cert), "--at", "yesterday"]) == 2
    assert "error [" in capsys.readouterr().err


def test_sign_refuses_a_key_of_another_certificate(
    dev: DevPki, packet: Path, tmp_path: Path
) -> None:
    status = main(
        ["sign", str(packet), "--key", str(dev.agencies[0].key), "--cert",
         str(dev.agencies[1].cert), "-o", str(tmp_path / "x.edxml")]
    )  # fmt: skip
    assert status == 2
    assert not (tmp_path / "x.edxml").exists()
