"""``axis demo --exit`` runs the whole exchange through the real daemon and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_reports(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "axis", "demo", "--exit", "--dir", str(demo_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Exchange report" in out
    assert "signature.invalid" in out  # the tampered packet
    assert "route.unknown-recipient" in out
    assert "delivered to its successor 000.01.31.H36" in out
    assert "refused 3" in out
    # the receipt it points at verifies, as the line it prints says
    held = demo_dir / "receipt.xml"
    assert f"axis audit receipt {held} --config" in out
    config = str(demo_dir / "axis.toml")
    check = subprocess.run(
        [sys.executable, "-m", "axis", "audit", "receipt", str(held), "--config", config, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert '"valid": true' in check.stdout
    # the demo never deletes a directory it did not make
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    refused = subprocess.run(
        [sys.executable, "-m", "axis", "demo", "--exit", "--dir", str(foreign)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0 and (foreign / "keep.txt").exists()
