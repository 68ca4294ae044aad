"""Table-driven: points → likelihood / consequence → level (5×5 matrix) → required
control, through the same SQL a scoring run uses (``engine.classify``)."""
from __future__ import annotations

import duckdb
import pytest

from akrim_analytics.risk import default_config, engine

# The default matrix written out by hand (rows: likelihood 1..5, columns: consequence 1..5).
L, M, H = "lav", "middels", "høy"
EXPECTED_LEVEL = [
    [L, L, L, L, M],
    [L, L, L, M, M],
    [L, L, M, M, H],
    [L, M, M, H, H],
    [M, M, H, H, H],
]
STEP = {L: 1, M: 2, H: 3}
CFG = default_config()


def _points_for(score: int, bands: list[float]) -> float:
    """The smallest points sum that gives ``score`` (1..5)."""
    return 0.0 if score == 1 else float(bands[score - 2])


@pytest.fixture(scope="module")
def mem():
    """classify needs no tables: one in-memory connection for the whole table."""
    c = duckdb.connect()
    yield c
    c.close()


CASES = [(lk, cq, covered) for lk in range(1, 6) for cq in range(1, 6) for covered in (True, False)]


@pytest.mark.parametrize("likelihood,consequence,covered", CASES)
def test_matrix_level_and_control(mem, likelihood, consequence, covered):
    lp = _points_for(likelihood, CFG["scoring"]["likelihood_bands"])
    cp = _points_for(consequence, CFG["scoring"]["consequence_bands"])
    level = EXPECTED_LEVEL[likelihood - 1][consequence - 1]
    step = STEP[level] if covered else 0
    assert engine.classify(mem, CFG, [(lp, cp, covered)]) == [(likelihood, consequence, level, step)]


@pytest.mark.parametrize("points,expected", [
    (-2.0, 1), (0.0, 1), (1.49, 1), (1.5, 2), (2.99, 2), (3.0, 3), (4.49, 3), (4.5, 4), (5.99, 4), (6.0, 5), (25, 5),
])
def test_likelihood_bands(mem, points, expected):
    assert engine.classify(mem, CFG, [(points, 0.0, True)])[0][0] == expected


@pytest.mark.parametrize("points,expected", [
    (0.0, 1), (0.99, 1), (1.0, 2), (2.0, 3), (3.49, 3), (3.5, 4), (5.5, 5), (9, 5),
])
def test_consequence_bands(mem, points, expected):
    assert engine.classify(mem, CFG, [(0.0, points, True)])[0][1] == expected


def test_matrix_and_steps_follow_the_configuration(mem):
    cfg = default_config()
    cfg["levels"]["matrix"] = [["høy"] * 5 for _ in range(5)]
    cfg["control"]["høy"] = 2
    assert engine.classify(mem, cfg, [(0, 0, True), (0, 0, False)]) == [(1, 1, "høy", 2), (1, 1, "høy", 0)]


def test_default_matrix_is_dfo_style_symmetric_sum():
    """The shipped matrix: høy when likelihood + consequence ≥ 8, middels when ≥ 6."""
    m = CFG["levels"]["matrix"]
    for i in range(5):
        for j in range(5):
            s = i + j + 2
            assert m[i][j] == ("høy" if s >= 8 else "middels" if s >= 6 else "lav")
    assert m == EXPECTED_LEVEL
