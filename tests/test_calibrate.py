"""eval/calibrate.py, the rules' confidence: the forward selection finds the cue that tells right from
wrong, and the threshold follows the release rule (5 % of the answerable questions refused, each set
weighing the same)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from qa import rules

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "eval"))
import calibrate


def rows_where(cue: str, n: int, label: str, rng: np.random.Generator, when: str = "") -> list[dict]:
    """Rows whose shown extract is right when `cue` is high: the other cues are noise."""
    out = []
    for i in range(n):
        x = rng.normal(size=len(rules.CUES))
        right = bool(x[rules.CUES.index(cue)] + 0.3 * rng.normal() > 0)
        day = when or f"{2021 + i % 2}-{1 + i % 12:02d}-01"
        out.append({"set": label, "when": day, "x": x, "right": right, "answerable": right or i % 3 > 0})
    return out


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict]]:
    rng = np.random.default_rng(7)
    return {
        "news-quiz": rows_where("new_numbers", 400, "news-quiz", rng),
        "seeds": [r for name in calibrate.SEED_SETS for r in rows_where("new_numbers", 60, name, rng, "-")],
        "seed test": rows_where("new_numbers", 40, calibrate.SEED_VALIDATION, rng, "-"),
    }


def test_forward_selection_adds_the_cue_that_tells_right_from_wrong(rows) -> None:
    chosen = calibrate.select(rows)
    assert chosen[: len(calibrate.START)] == list(calibrate.START)
    assert "new_numbers" in chosen[len(calibrate.START) :]
    cheap = calibrate.validation_brier(rows, calibrate.START, 1.0)
    assert calibrate.validation_brier(rows, chosen, 1.0) < cheap - 0.05


def test_the_threshold_refuses_five_percent_of_the_answerable_questions(rows) -> None:
    """Each set weighs the same: the mean over the sets of the share of its answerable questions refused."""
    names = [*calibrate.START, "new_numbers"]
    fitted = rows["news-quiz"] + rows["seeds"]
    model, threshold = calibrate.fit(fitted, names, 1.0)
    shares, sizes = [], []
    for label in {r["set"] for r in fitted}:
        answerable = [r for r in fitted if r["set"] == label and r["answerable"]]
        shares.append(float(np.mean(calibrate.confidences(model, answerable, names) < threshold)))
        sizes.append(len(answerable))
    refused = float(np.mean(shares))
    assert refused <= calibrate.REFUSED_AT_MOST and refused > calibrate.REFUSED_AT_MOST - 1 / min(sizes)
    # the cue's weight is the largest: it is what the confidence learned
    assert int(np.argmax(np.abs(model.coef))) == names.index("new_numbers")
