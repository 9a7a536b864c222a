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


def test_the_server_watch_trains_in_the_background_and_opens_an_anomaly_typed_by_the_signal(storage) -> None:  # type: ignore[no-untyped-def]
    from aither.server.detection import rollups
    from aither.server.detection.anomalies import open_rows
    from aither.server.drift import DriftSettings
    from aither.server.drift.sequences import SequenceWatch

    settings = DriftSettings(sequence_watch=True, sequence_train_minutes=8 * DAY, sequence_window=20)
    rng = np.random.default_rng(1)
    start = 1_000 * DAY * MINUTE_NS  # minute-aligned
    history = _traffic(9, rng)
    key = ("llm", "support", "gpt-test", "", "")

    def write(minutes: dict[int, Rollup], offset: int) -> None:
        batch = {(start + offset + m, *key): r for m, r in minutes.items()}
        storage.writer.run(lambda connection: rollups.upsert(connection, "org", batch))

    write(history, 0)
    watch = SequenceWatch()
    now = start + 8 * DAY * MINUTE_NS
    assert storage.writer.run(lambda c: watch.step(c, "org", now, settings)) == []  # training started
    trainer = watch.trainer("org", ("llm", "support", "gpt-test"))
    assert trainer is not None and trainer.done.wait(60) and trainer.model is not None

    now += MINUTE_NS  # the next minute, still the usual shape: nothing
    assert storage.writer.run(lambda c: watch.step(c, "org", now, settings)) == []
    deviating = {m: r for m, r in history.items() if 8 * DAY * MINUTE_NS <= m < (8 * DAY + 40) * MINUTE_NS}
    for rollup in deviating.values():  # latency rises in the last 40 minutes (the upsert adds to the minute)
        rollup.latency_sum_ms *= 3
    write({m - 8 * DAY * MINUTE_NS: r for m, r in deviating.items()}, 8 * DAY * MINUTE_NS)
    now = start + (8 * DAY + 40) * MINUTE_NS
    notices = storage.writer.run(lambda c: watch.step(c, "org", now, settings))
    assert [(n.rule, n.anomaly_type, n.detection_method) for n in notices] == [
        ("lstm_latency_ms", "latency_spike", "lstm_autoencoder")
    ]
    with storage.read() as connection:
        (row,) = list(open_rows(connection, "org"))
    assert row["model"] == "gpt-test" and row["service"] == "support"
