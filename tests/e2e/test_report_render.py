"""`deepcredit evaluate` on a held-out world writes a report that a browser shows with its plots.

Checked as a person would: headless Chromium renders report.html to a screenshot, and the screenshot must
hold the figures' own colours over large areas (a page whose images failed to load would not).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from deepcredit.cli import eval_cmds

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FIGURE_BLUE = (0x8F, 0xB8, 0xED)  # figures.GOOD: goods in the histogram, reference bars; not used by the CSS
FIGURE_RED = (0xC0, 0x39, 0x2B)  # figures.BAD: bads in the histogram, the bads' KS curve


def _browser() -> str | None:
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2400) -> None:
    """Render `html` in headless Chromium (no network, throwaway profile) to `png`."""
    browser = _browser()
    assert browser is not None
    with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryFile() as log:
        # output to a file, not a pipe: Chromium's helper processes keep a pipe open for seconds after it exits
        done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}",
                               f"--window-size={width},{height}", html.resolve().as_uri()],
                              stdout=log, stderr=log, timeout=120)
        log.seek(0)
        assert done.returncode == 0 and png.exists(), log.read().decode(errors="replace")[-2000:]


def _near(pixels: np.ndarray, colour: tuple[int, int, int], tol: int = 12) -> int:
    return int((np.abs(pixels.astype(int) - np.array(colour)).max(axis=2) <= tol).sum())


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Fit a small WoE scorecard on one simulated world, evaluate it through the CLI on another."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.features.bundle import build_model_input
    from deepcredit.models.base import save_model
    from deepcredit.models.scorecard import ScorecardModel

    root = tmp_path_factory.mktemp("e2e_report")
    dev = simulate_world(root / "dev", people=800, seed=1)
    simulate_world(root / "test", people=800, seed=2)
    inp = build_model_input(dev, views=("tabular",))
    card = ScorecardModel(features=["bad_rate", "n_bad_365d", "mean_days_late_180d", "utilisation"]).fit(inp)
    save_model(card, root / "model", inp)
    app = typer.Typer()
    eval_cmds.register(app)
    res = CliRunner().invoke(app, ["evaluate", "--model", str(root / "model"), "--data", str(root / "test"),
                                   "--reference", str(root / "dev"), "--out", str(root / "report"),
                                   "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    assert "report:" in res.output
    assert "ECE of a perfectly calibrated PD on these rows" in res.output  # the console says the ECE's floor too
    return root / "report"


def test_evaluate_writes_every_file(report):
    for name in ("report.html", "figures.json", "results.json", "model_card.md", "scores.parquet"):
        assert (report / name).stat().st_size > 0, name
    results = json.loads((report / "results.json").read_text())
    assert 0.6 < results["evaluation"]["metrics"]["auc"] < 1.0  # held-out world, simulated signal
    assert set(results["fairness"]["attributes"]) == {"sex", "age_band", "marital_status"}
    assert results["stability"]["score_psi"]["level"] == "ok"  # two draws of the same world


@pytest.mark.skipif(_browser() is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_renders_with_plots_in_a_browser(report, tmp_path):
    png = tmp_path / "report.png"
    screenshot(report / "report.html", png, height=3600)
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[:2] == (3600, 1280)
    background = pixels[-1, -1]
    assert (np.abs(pixels.astype(int) - background).max(axis=2) > 30).mean() > 0.02  # ink: not a blank page
    packed = (pixels[..., 0].astype(np.int32) << 16) | (pixels[..., 1].astype(np.int32) << 8) | pixels[..., 2]
    assert len(np.unique(packed)) > 500  # anti-aliased plots, not flat boxes
    assert _near(pixels, FIGURE_BLUE) > 20_000  # histogram and PSI bars drawn
    assert _near(pixels, FIGURE_RED) > 2_000  # bads in the histogram and the KS curve
