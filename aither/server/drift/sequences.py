"""LSTM_AUTOENCODER: a service's normal shape over the minutes, and the minutes that deviate.

The series is per minute and per service (or model) from detection's rollups: mean latency, cost
per call, tokens per call and error rate. A tiny LSTM autoencoder (one layer of ``hidden`` units
each way; a few thousand parameters) learns to reconstruct windows of ``window`` minutes of the
standardised series; the threshold is a high quantile of its reconstruction error on the
training windows. A window it cannot reconstruct is one the service's normal (daily) shape does
not explain. PyTorch is optional (the ``torch`` extra); training runs in a background thread
(:class:`BackgroundTrainer`) so the caller never waits for it.

Not wired into the server's anomaly flow yet: ``docs/drift.md`` says what is left.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from ..detection.rollups import MINUTE_NS, Rollup

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
