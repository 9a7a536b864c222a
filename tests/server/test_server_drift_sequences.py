"""LSTM_AUTOENCODER on synthetic per-minute series: a learned daily shape, an injected deviation."""

from __future__ import annotations

import numpy as np
import pytest

from aither.server.detection.rollups import MINUTE_NS, Rollup
from aither.server.drift.sequences import BackgroundTrainer, series_from_rollups

pytest.importorskip("torch")
pytestmark = pytest.mark.slow

DAY = 60  # a "day" of 60 minutes keeps the test fast; the shape is what matters


def _traffic(days: int, rng: np.random.Generator) -> dict[int, Rollup]:
    minutes: dict[int, Rollup] = {}
    for m in range(days * DAY):
        phase = np.sin(2 * np.pi * m / DAY)
        rollup = Rollup()
        for _ in range(20):
            rollup.add_call(max(1.0, 200 + 80 * phase + rng.normal(0, 10)), is_error=rng.random() < 0.01)
        rollup.cost_usd, rollup.cost_calls = 20 * (0.002 + 0.001 * phase), 20
        rollup.input_tokens, rollup.output_tokens = 20 * (500 + 200 * phase), 20 * 100
        minutes[m * MINUTE_NS] = rollup
    return minutes


def test_the_autoencoder_learns_the_shape_and_flags_an_injected_deviation() -> None:
    rng = np.random.default_rng(0)
    history = series_from_rollups(_traffic(8, rng), 0, 8 * DAY * MINUTE_NS)
    assert history.shape == (8 * DAY, 4)
    trainer = BackgroundTrainer(history, window=20, epochs=6)
    assert trainer.done.wait(60), "training did not finish within a minute"
    assert trainer.error is None and trainer.model is not None
    model = trainer.model

    clean = series_from_rollups(_traffic(2, rng), 0, 2 * DAY * MINUTE_NS)
    assert len(model.deviating_minutes(clean)) <= 0.05 * clean.shape[0]

    deviated = clean.copy()
    deviated[70:85, 0] = deviated[70:85, 0].mean() * 2.5  # latency far off its usual shape for 15 minutes
    flagged = model.deviating_minutes(deviated)
    assert set(range(70, 85)) & set(flagged), flagged
    assert model.errors(deviated).max() > 2 * model.errors(clean).max()
