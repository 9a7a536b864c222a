"""LSTM_AUTOENCODER: a service's normal shape over the minutes, and the minutes that deviate.

The series is per minute and per service (or model) from detection's rollups: mean latency, cost
per call, tokens per call and error rate. A tiny LSTM autoencoder (one layer of ``hidden`` units
each way; a few thousand parameters) learns to reconstruct windows of ``window`` minutes of the
standardised series; the threshold is a high quantile of its reconstruction error on the
training windows. A window it cannot reconstruct is one the service's normal (daily) shape does
not explain. PyTorch is optional (the ``torch`` extra); training runs in a background thread
(:class:`BackgroundTrainer`) so the caller never waits for it.

:class:`SequenceWatch` runs it in the server (opt-in, ``sequence_watch = true``): once a minute of
event time per organisation it trains a model per target (kind, service, model) on the last
``sequence_train_minutes`` of rollups, in the background, and scores the last
``sequence_window`` complete minutes; a window it cannot reconstruct opens an anomaly typed by
the signal that deviates most (``lstm_latency_ms`` is a LATENCY_SPIKE...), resolved when the
window is reconstructed again.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from sqlalchemy.engine import Connection

from ...schema.vocabulary import AnomalyType, DetectionMethod, Severity
from ..alerts.notice import AnomalyNotice
from ..detection import rollups
from ..detection.anomalies import Target
from ..detection.rollups import MINUTE_NS, Rollup
from ..detection.rules import Rule
from . import outcomes
from .config import DriftSettings

Series: TypeAlias = Any  # a (minutes, 4) numpy array of float64 (numpy is untyped for mypy here)
SIGNALS = ("latency_ms", "cost_per_call", "tokens_per_call", "error_rate")


def available() -> bool:
    """Whether PyTorch is installed (``pip install 'aither[torch]'``)."""
    return importlib.util.find_spec("torch") is not None


def series_from_rollups(minutes: Mapping[int, Rollup], start_ns: int, end_ns: int) -> Series:
    """The per-minute signals of one target over ``[start, end)``; a minute without calls is zeros."""
    first = start_ns - start_ns % MINUTE_NS
    count = max(0, (end_ns - first) // MINUTE_NS)
    out = np.zeros((count, len(SIGNALS)))
    for i in range(count):
        rollup = minutes.get(first + i * MINUTE_NS)
        if rollup is None or rollup.count <= 0:
            continue
        out[i] = (
            rollup.mean_latency(),
            rollup.cost_usd / rollup.cost_calls if rollup.cost_calls else 0.0,
            rollup.tokens / rollup.count,
            rollup.errors / rollup.count,
        )
    return out


def _windows(series: Series, window: int) -> Series:
    count = series.shape[0] - window + 1
    return np.stack([series[i : i + window] for i in range(max(count, 0))]) if count > 0 else None


@dataclass
class SequenceModel:
    """A trained autoencoder, the standardisation it learned with, and its error threshold."""

    network: Any
    mean: Series
    scale: Series
    window: int
    threshold: float

    def errors(self, series: Series) -> Series:
        """Per window of ``series`` (window i covers minutes i .. i + window - 1), its mean squared
        reconstruction error."""
        import torch

        windows = _windows((series - self.mean) / self.scale, self.window)
        if windows is None:
            return np.zeros(0)
        with torch.no_grad():
            data = torch.tensor(windows, dtype=torch.float32)
            rebuilt = self.network(data)
            return ((rebuilt - data) ** 2).mean(dim=(1, 2)).numpy().astype(np.float64)

    def signal_errors(self, series: Series) -> Series:
        """Per signal, the mean squared reconstruction error of the last window of ``series``."""
        import torch

        windows = _windows((series - self.mean) / self.scale, self.window)
        if windows is None:
            return np.zeros(series.shape[1])
        with torch.no_grad():
            data = torch.tensor(windows[-1:], dtype=torch.float32)
            return ((self.network(data) - data) ** 2).mean(dim=(0, 1)).numpy().astype(np.float64)

    def deviating_minutes(self, series: Series) -> list[int]:
        """The minutes covered by a window whose error passes the threshold."""
        flagged: set[int] = set()
        for i, error in enumerate(self.errors(series)):
            if error > self.threshold:
                flagged.update(range(i, i + self.window))
        return sorted(flagged)


def train(
    series: Series,
    *,
    window: int = 30,
    hidden: int = 8,
    epochs: int = 8,
    quantile: float = 0.995,
    margin: float = 1.5,
    seed: int = 0,
) -> SequenceModel:
    """Fit the autoencoder on ``series`` (normal traffic); the threshold is ``margin`` times the
    ``quantile`` of the training windows' errors."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mean = series.mean(axis=0)
    scale = series.std(axis=0)
    scale[scale == 0] = 1.0
    windows = _windows((series - mean) / scale, window)
    if windows is None:
        raise ValueError(f"the series has {series.shape[0]} minutes; training needs more than {window}")
    features = series.shape[1]

    class Autoencoder(nn.Module):  # type: ignore[misc]  # torch is untyped for mypy here
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(features, hidden, batch_first=True)
            self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
            self.out = nn.Linear(hidden, features)

        def forward(self, x: Any) -> Any:
            _, (state, _) = self.encoder(x)
            repeated = state[-1].unsqueeze(1).repeat(1, x.shape[1], 1)
            decoded, _ = self.decoder(repeated)
            return self.out(decoded)

    network = Autoencoder()
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
    data = torch.tensor(windows, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(data.shape[0], generator=generator).split(64):
            optimiser.zero_grad()
            loss = ((network(data[batch]) - data[batch]) ** 2).mean()
            loss.backward()
            optimiser.step()
    network.eval()
    model = SequenceModel(network, mean, scale, window, 0.0)
    model.threshold = margin * float(np.quantile(model.errors(series), quantile))
    return model


class BackgroundTrainer:
    """Trains a :class:`SequenceModel` on a daemon thread; :attr:`model` is None until it is done."""

    def __init__(self, series: Series, **options: Any) -> None:
        self.model: SequenceModel | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(series, options), name="aither-lstm", daemon=True
        )
        self._thread.start()

    def _run(self, series: Series, options: dict[str, Any]) -> None:
        try:
            self.model = train(series, **options)
        except Exception as exc:  # a failed training leaves no model; the server goes on
            self.error = exc
        finally:
            self.done.set()


_TYPES = {
    "latency_ms": AnomalyType.LATENCY_SPIKE,
    "cost_per_call": AnomalyType.COST_ANOMALY,
    "tokens_per_call": AnomalyType.TOKEN_USAGE_SPIKE,
    "error_rate": AnomalyType.ERROR_RATE_INCREASE,
}
RULES = {
    signal: Rule(
        f"lstm_{signal}",
        "window",
        kind,
        Severity.MEDIUM,
        DetectionMethod.LSTM_AUTOENCODER,
        None,
        0.0,
        ("llm", "prediction"),
        "The service's minutes no longer follow its usual shape; compare this hour with the same "
        "hour of previous days",
        f"An LSTM autoencoder of the service's normal shape cannot reconstruct its recent {signal}",
    )
    for signal, kind in _TYPES.items()
}
RETRY_NS = 60 * MINUTE_NS
TargetKey = tuple[str, str, str]
"""(kind, service, model)."""


def _by_target(rows: list[tuple[rollups.RollupKey, Rollup]]) -> dict[TargetKey, dict[int, Rollup]]:
    out: dict[TargetKey, dict[int, Rollup]] = {}
    for key, rollup in rows:
        minutes = out.setdefault((key[1], key[2], key[3]), {})
        merged = minutes.setdefault(key[0], Rollup())
        merged.merge(rollup)
    return out


class SequenceWatch:
    """Per organisation and target, a model in training or trained; checked once a minute."""

    def __init__(self) -> None:
        self._trainers: dict[tuple[str, TargetKey], BackgroundTrainer] = {}
        self._checked: dict[str, int] = {}
        self._attempted: dict[tuple[str, TargetKey], int] = {}

    def trainer(self, org_id: str, target: TargetKey) -> BackgroundTrainer | None:
        return self._trainers.get((org_id, target))

    def step(
        self, connection: Connection, org_id: str, now_ns: int, settings: DriftSettings
    ) -> list[AnomalyNotice]:
        """Train what has enough history, score what is trained; the notices to send."""
        if not settings.sequence_watch or not available():
            return []
        minute = now_ns - now_ns % MINUTE_NS
        if self._checked.get(org_id) == minute:
            return []
        self._checked[org_id] = minute
        window = settings.sequence_window
        recent = _by_target(rollups.read(connection, org_id, minute - 2 * window * MINUTE_NS, minute))
        # a target without enough history is looked at again an hour later, not every minute
        untrained = [
            t
            for t in recent
            if (org_id, t) not in self._trainers
            and minute - self._attempted.get((org_id, t), minute - RETRY_NS) >= RETRY_NS
        ]
        if untrained:
            start = minute - settings.sequence_train_minutes * MINUTE_NS
            history = _by_target(rollups.read(connection, org_id, start, minute))
            for target in untrained:
                self._attempted[(org_id, target)] = minute
                minutes = history.get(target, {})
                if len(minutes) >= settings.sequence_train_minutes // 2:
                    series = series_from_rollups(minutes, start, minute)
                    self._trainers[(org_id, target)] = BackgroundTrainer(series, window=window)
        notices: list[AnomalyNotice] = []
        for target, minutes in recent.items():
            trainer = self._trainers.get((org_id, target))
            if trainer is None or trainer.model is None:
                continue
            model = trainer.model
            series = series_from_rollups(minutes, minute - 2 * window * MINUTE_NS, minute)
            total = float(model.errors(series)[-1]) if series.shape[0] >= window else 0.0
            errors = model.signal_errors(series)
            worst = SIGNALS[int(np.argmax(errors))]
            where = Target(target[0], target[1], target[2])
            for signal in SIGNALS:
                rule = RULES[signal]
                finding = None
                if total > model.threshold and signal == worst:
                    evidence = {
                        "reconstruction_error": total,
                        "threshold": model.threshold,
                        "signal_errors": dict(zip(SIGNALS, (float(e) for e in errors), strict=True)),
                        "window_minutes": window,
                    }
                    message = (
                        f"the last {window} minutes deviate from the learned shape "
                        f"(error {total:.3g} > {model.threshold:.3g}), mostly in {signal}"
                    )
                    finding = (message, evidence)
                notice = outcomes.settle(connection, org_id, rule, where, minute, finding)
                if notice is not None:
                    notices.append(notice)
        return notices
