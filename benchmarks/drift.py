"""Drift detection: the smallest shift each method detects, its false alarms, its delay, and the peers.

Synthetic data with a known shift injected at a known time, 1,000 predictions per window, the
reference 1,000 rows of the same stationary process:

- ``mean``: feature x0 moves by s standard deviations;
- ``variance``: x0's standard deviation grows by a factor 1 + s;
- ``category``: a share s of the rows carry a category the reference never saw;
- ``label_flip``: in the part of the space where x1 > 1 (16 % of the rows), a share s of the labels flip
  (the inputs do not move: only labels show it).

For each method the false-alarm rate is measured on stationary windows at aither's default
threshold; where it is over 1 %, the threshold is recalibrated to the stationary 99th
percentile and the table says so. "Smallest shift" is the smallest s of the grid that the method
flags in at least 90 % of the trials. The delay is the rows from the injection (in the middle of
a window) to the first window flagged, for a shift of twice the smallest.

The peers, Evidently's data-drift preset and NannyML's univariate drift and CBPE, run on the same
windows in the same run when installed (they pin their own numpy/pandas/scikit-learn: run this in
a separate environment, ``/work/venv-drift``); a peer that is not installed is skipped, saying so.

    python -m benchmarks.drift [--trials 50] [--peer-trials 20]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from aither.server.drift.config import DriftSettings
from aither.server.drift.reference import build
from aither.server.drift.statistics import (
    categorical_scores,
    numeric_scores,
    proportion_drop_pvalue,
)
from aither.server.drift.windows import Window, compare

# the peers' usage analytics: off (this machine has no internet, and a benchmark sends nothing)
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

ROWS = 1000
NANNYML_CHUNKS = 5
CATEGORIES = ("a", "b", "c", "d")
GRID: dict[str, tuple[float, ...]] = {
    "mean": (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0),
    "variance": (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0),
    "category": (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1),
    "label_flip": (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
}
SETTINGS = DriftSettings()


def make(rng: np.random.Generator, rows: int, scenario: str = "none", s: float = 0.0) -> dict[str, Any]:
    """One window: four numeric features, one categorical, the model's prediction and the label."""
    x = rng.standard_normal((rows, 4))
    if scenario == "mean":
        x[:, 0] += s
    elif scenario == "variance":
        x[:, 0] *= 1 + s
    segment = rng.choice(CATEGORIES, size=rows, p=(0.4, 0.3, 0.2, 0.1)).astype(object)
    if scenario == "category":
        segment[rng.random(rows) < s] = "e"
    prediction = (x[:, 1] > 0).astype(int)
    label = ((x[:, 1] + 0.5 * rng.standard_normal(rows)) > 0).astype(int)
    if scenario == "label_flip":
        flip = (x[:, 1] > 1) & (rng.random(rows) < s)
        label[flip] = 1 - label[flip]
    return {"x": x, "segment": segment, "prediction": prediction, "label": label}


def table(data: dict[str, Any]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {f"x{i}": data["x"][:, i].tolist() for i in range(4)}
    columns["segment"] = list(data["segment"])
    return columns


# --- aither's methods, one feature at a time, and aither's own decision over the whole window ------


@dataclass
class Method:
    name: str
    column: str  # "x0", "segment" or "label"
    score: Callable[[dict[str, Any], dict[str, Any]], float]
    p_value: bool


def _numeric(method: str) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    def score(ref: dict[str, Any], win: dict[str, Any]) -> float:
        summary = ref["reference"].inputs["x0"]
        (result,) = numeric_scores(
            np.array(ref["reference"].sample_inputs["x0"]),
            np.array(summary.counts),
            np.array(summary.edges),
            win["x"][:, 0],
            SETTINGS.thresholds,
            (method,),
        )
        return result.value

    return score


def _categorical(method: str) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    def score(ref: dict[str, Any], win: dict[str, Any]) -> float:
        counts = ref["reference"].inputs["segment"].category_counts
        found = {
            s.method: s.value for s in categorical_scores(counts, list(win["segment"]), SETTINGS.thresholds)
        }
        return found[method]

    return score


def _accuracy(ref: dict[str, Any], win: dict[str, Any]) -> float:
    ok_ref = int((ref["prediction"] == ref["label"]).sum())
    ok_win = int((win["prediction"] == win["label"]).sum())
    return proportion_drop_pvalue(ok_ref, ROWS, ok_win, ROWS)


def _decision(ref: dict[str, Any], win: dict[str, Any]) -> float:
    """aither's server decision: any column drifted (KS and PSI, chi-square and PSI, Bonferroni)."""
    window = Window(0, 0)
    window.add(table(win), {}, 0)
    return float(any(f.drifted for f in compare(ref["reference"], window, SETTINGS)))


METHODS = [
    *(Method(m, "x0", _numeric(m), m == "ks") for m in ("psi", "kl", "js", "wasserstein", "ks")),
    *(Method(f"{m} (category)", "segment", _categorical(m), m == "chi2") for m in ("psi", "chi2")),
    Method("z-test accuracy (labels)", "label", _accuracy, True),
]


def _threshold(method: Method) -> float:
    if method.name.startswith("z-test"):
        return SETTINGS.performance_alpha
    key = method.name.split(" ")[0]
    return SETTINGS.thresholds[key]


def _flags(method: Method, threshold: float, value: float) -> bool:
    return value < threshold if method.p_value else value >= threshold


def _reference(rng: np.random.Generator) -> dict[str, Any]:
    data = make(rng, ROWS)
    data["reference"] = build(
        table(data), {}, source="benchmark", bins=SETTINGS.bins, reservoir_rows=SETTINGS.reservoir_rows
    )
    return data


SCENARIO_OF = {"x0": ("mean", "variance"), "segment": ("category",), "label": ("label_flip",)}


def run_aither(trials: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    refs = [_reference(rng) for _ in range(trials)]
    rows: list[dict[str, Any]] = []
    for method in METHODS:
        null = [method.score(ref, make(rng, ROWS)) for ref in refs for _ in range(4)]
        threshold = _threshold(method)
        false_alarms = float(np.mean([_flags(method, threshold, v) for v in null]))
        note = "default"
        if false_alarms > 0.01:
            threshold = float(np.quantile(null, 0.01 if method.p_value else 0.99))
            note = "recalibrated"
            false_alarms = float(np.mean([_flags(method, threshold, v) for v in null]))
        started = time.perf_counter()
        for scenario in SCENARIO_OF[method.column]:
            smallest = None
            for s in GRID[scenario]:
                hits = [
                    _flags(method, threshold, method.score(ref, make(rng, ROWS, scenario, s))) for ref in refs
                ]
                if np.mean(hits) >= 0.9:
                    smallest = s
                    break
            delay = _delay(method, threshold, refs[0], scenario, 2 * smallest, rng) if smallest else None
            rows.append(
                {
                    "method": method.name,
                    "scenario": scenario,
                    "threshold": threshold,
                    "note": note,
                    "false_alarms": false_alarms,
                    "smallest": smallest,
                    "delay_rows": delay,
                }
            )
        rows[-1]["seconds"] = time.perf_counter() - started
    return rows


def _delay(
    method: Method, threshold: float, ref: dict[str, Any], scenario: str, s: float, rng: np.random.Generator
) -> int | None:
    """Rows from an injection in the middle of a window to the end of the first window flagged."""
    for k in range(10):
        if k == 0:  # half the window before the injection, half after
            before, after = make(rng, ROWS // 2), make(rng, ROWS // 2, scenario, s)
            win = {key: np.concatenate([before[key], after[key]]) for key in before}
        else:
            win = make(rng, ROWS, scenario, s)
        if _flags(method, threshold, method.score(ref, win)):
            return ROWS // 2 + k * ROWS
    return None


def aither_decision(trials: int, seed: int) -> dict[str, Any]:
    """The server's own decision over all five columns: false alarms and time per window."""
    rng = np.random.default_rng(seed)
    refs = [_reference(rng) for _ in range(trials)]
    started = time.perf_counter()
    alarms = [_decision(ref, make(rng, ROWS)) for ref in refs for _ in range(4)]
    seconds = (time.perf_counter() - started) / len(alarms)
    detected = {
        (scenario, s): float(np.mean([_decision(ref, make(rng, ROWS, scenario, s)) for ref in refs]))
        for scenario, s in (
            ("mean", 0.2),
            ("mean", 0.3),
            ("variance", 0.3),
            ("category", 0.02),
            ("category", 0.03),
        )
    }
    return {"false_alarms": float(np.mean(alarms)), "seconds": seconds, "detected": detected}


# --- the peers -------------------------------------------------------------------------------------


def _frame(data: dict[str, Any]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(data["x"], columns=[f"x{i}" for i in range(4)])
    frame["segment"] = data["segment"].astype(str)
    frame["prediction"] = data["prediction"]
    frame["label"] = data["label"]
    return frame


def evidently_peer(trials: int, seed: int) -> dict[str, Any] | str:
    try:
        import evidently
    except ImportError:
        return "Evidently is not installed here: skipped (pip install evidently, in its own environment)"
    run = _evidently_runner()
    rng = np.random.default_rng(seed)
    refs = [_frame(make(rng, ROWS)) for _ in range(trials)]
    started = time.perf_counter()
    null = [run(ref, _frame(make(rng, ROWS))) for ref in refs]
    seconds = (time.perf_counter() - started) / len(null)
    out: dict[str, Any] = {
        "version": evidently.__version__,
        "seconds": seconds,
        "false_alarms_x0": float(np.mean([r["x0"] for r in null])),
        "false_alarms_any_column": float(np.mean([r["any"] for r in null])),
        "false_alarms_dataset": float(np.mean([r["dataset"] for r in null])),
        "detected": {},
    }
    for scenario, column in (("mean", "x0"), ("variance", "x0"), ("category", "segment")):
        for s in GRID[scenario]:
            share = float(np.mean([run(ref, _frame(make(rng, ROWS, scenario, s)))[column] for ref in refs]))
            if share >= 0.9:
                out["detected"][scenario] = s
                break
        else:
            out["detected"][scenario] = None
    return out


def _evidently_runner() -> Callable[[Any, Any], dict[str, bool]]:
    """One Evidently data-drift preset report -> per-column and dataset decisions (0.4-0.7 APIs)."""
    columns = ["x0", "x1", "x2", "x3", "segment"]
    try:  # evidently >= 0.7
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=columns[:4], categorical_columns=["segment"])

        def run_new(ref: Any, cur: Any) -> dict[str, bool]:
            report = Report([DataDriftPreset(columns=columns)])
            result = report.run(
                Dataset.from_pandas(cur[columns], data_definition=definition),
                Dataset.from_pandas(ref[columns], data_definition=definition),
            )
            flags: dict[str, bool] = {}
            dataset = False
            for metric in result.dict()["metrics"]:
                name, value, config = metric["metric_name"], metric["value"], metric["config"]
                if name.startswith("DriftedColumnsCount"):
                    dataset = bool(value["share"] >= config.get("drift_share", 0.5))
                elif name.startswith("ValueDrift"):
                    flags[config["column"]] = _evidently_drifted(
                        value, config.get("threshold"), config["method"]
                    )
            return {**flags, "any": any(flags.values()), "dataset": dataset}

        return run_new
    except ImportError:
        from evidently.metric_preset import DataDriftPreset as OldPreset
        from evidently.report import Report as OldReport

        def run_old(ref: Any, cur: Any) -> dict[str, bool]:
            report = OldReport(metrics=[OldPreset(columns=columns)])
            report.run(reference_data=ref[columns], current_data=cur[columns])
            result = report.as_dict()["metrics"]
            table_ = next(m["result"] for m in result if "drift_by_columns" in m["result"])
            flags = {c: bool(v["drift_detected"]) for c, v in table_["drift_by_columns"].items()}
            dataset = bool(
                next(m["result"]["dataset_drift"] for m in result if "dataset_drift" in m["result"])
            )
            return {**flags, "any": any(flags.values()), "dataset": dataset}

        return run_old


def _evidently_drifted(value: float, threshold: float | None, method: str) -> bool:
    """Evidently 0.7 reports a column's score; p-value tests drift below the threshold."""
    if threshold is None:
        return False
    p_value = "p_value" in method.lower() or method.lower().startswith(("k-s", "chi", "z-test"))
    return value < threshold if p_value else value >= threshold


def nannyml_peer(trials: int, seed: int) -> dict[str, Any] | str:
    try:
        import nannyml as nml
    except ImportError:
        return "NannyML is not installed here: skipped (pip install nannyml, in its own environment)"

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"version": nml.__version__}
    # univariate drift, KS and chi2 (NannyML's defaults for continuous and categorical), chunk = window
    null_flags, times = [], []
    detected: dict[str, float | None] = {}
    for scenario in ("none", "mean", "category"):
        grid = (0.0,) if scenario == "none" else GRID[scenario]
        for s in grid:
            flags = []
            for _ in range(trials):
                # NannyML sets its alert thresholds from the spread over reference chunks: it gets a
                # reference of five windows (one window gives a zero spread, and every chunk alerts)
                ref, cur = _frame(make(rng, NANNYML_CHUNKS * ROWS)), _frame(make(rng, ROWS, scenario, s))
                started = time.perf_counter()
                calc = nml.UnivariateDriftCalculator(
                    column_names=["x0", "x1", "x2", "x3", "segment"],
                    continuous_methods=["kolmogorov_smirnov"],
                    categorical_methods=["chi2"],
                    chunk_size=ROWS,
                )
                calc.fit(ref)
                result = calc.calculate(cur).filter(period="analysis").to_df()
                times.append(time.perf_counter() - started)
                column = "segment" if scenario == "category" else "x0"
                method = "chi2" if column == "segment" else "kolmogorov_smirnov"
                flags.append(bool(result[(column, method, "alert")].iloc[0]))
            share = float(np.mean(flags))
            if scenario == "none":
                null_flags.append(share)
            elif share >= 0.9:
                detected[scenario] = s
                break
        else:
            if scenario != "none":
                detected[scenario] = None
    out["false_alarms_x0"] = null_flags[0]
    out["detected"] = detected
    out["seconds_univariate"] = float(np.mean(times))
    # CBPE on the label flip: estimated accuracy from the probabilities, no labels
    estimates = []
    started = time.perf_counter()
    for s in (0.0, 1.0):
        frames = []
        for period, scenario in (("reference", "none"), ("analysis", "label_flip")):
            rows = ROWS if period == "analysis" else NANNYML_CHUNKS * ROWS
            data = make(rng, rows, scenario if period == "analysis" else "none", s)
            frame = _frame(data)
            frame["proba"] = 1 / (1 + np.exp(-3 * data["x"][:, 1]))
            frame["period"] = period
            frames.append(frame)
        ref, cur = frames
        estimator = nml.CBPE(
            y_pred_proba="proba",
            y_pred="prediction",
            y_true="label",
            metrics=["accuracy"],
            chunk_size=ROWS,
            problem_type="classification_binary",
        )
        estimator.fit(ref)
        result = estimator.estimate(cur.drop(columns=["label"])).filter(period="analysis").to_df()
        realized = float((cur["prediction"] == cur["label"]).mean())
        estimates.append((s, float(result[("accuracy", "value")].iloc[0]), realized))
    out["cbpe"] = estimates
    out["seconds_cbpe"] = (time.perf_counter() - started) / 2
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--peer-trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"windows of {ROWS} predictions; reference {ROWS} rows; {args.trials} trials per point\n")
    print(
        "| method | scenario | threshold | false alarms | smallest shift (>= 90 % flagged) | delay (rows) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in run_aither(args.trials, args.seed):
        smallest = "not within the grid" if row["smallest"] is None else f"{row['smallest']:g}"
        delay = "-" if row["delay_rows"] is None else f"{row['delay_rows']:,}"
        print(
            f"| {row['method']} | {row['scenario']} | {row['threshold']:.3g} ({row['note']}) | "
            f"{row['false_alarms']:.1%} | {smallest} | {delay} |"
        )
    decision = aither_decision(args.trials, args.seed + 1)
    print(
        f"\naither's server decision over 5 columns: {decision['false_alarms']:.1%} false alarms per window, "
        f"{decision['seconds'] * 1000:.1f} ms per window; flagged share: "
        + ", ".join(f"{k[0]} {k[1]:g}: {v:.0%}" for k, v in decision["detected"].items())
    )
    for name, peer in (("Evidently", evidently_peer), ("NannyML", nannyml_peer)):
        started = time.perf_counter()
        result = peer(args.peer_trials, args.seed + 2)
        print(f"\n{name}: {result}  ({time.perf_counter() - started:.1f} s in all)")


if __name__ == "__main__":
    main()
