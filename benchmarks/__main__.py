"""Run every benchmark in turn: ``python -m benchmarks`` (or ``nox -s bench``); or one by
name with its own flags: ``python -m benchmarks soak --duration 60``.

Each prints a table (medians of single calls, or means and CPU under sustained load) and
ratios against a raw call and a hand-written OpenTelemetry span measured in the same run.
Never run in CI: timings are not tests.
The hour-scale soak runs only when named.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from ._common import ROOT

CORE = [
    "benchmarks.overhead",
    "benchmarks.burst",
    "benchmarks.sustained",
    "benchmarks.gc_queue",
    "benchmarks.event_loop",
]
OTHERS = [
    "benchmarks.frameworks",
    "benchmarks.llm",
    "benchmarks.server_ingest",
    "benchmarks.server_label_join",
    "benchmarks.detection",
    "benchmarks.dashboard",
]
LONG = ["benchmarks.soak"]  # an hour by default: only when asked for by name


def main() -> None:
    args = sys.argv[1:]
    modules = CORE + OTHERS
    if args and not args[0].startswith("-"):
        name = args.pop(0)
        modules = [m for m in CORE + OTHERS + LONG if m.rpartition(".")[2] == name]
        if not modules:
            raise SystemExit(f"no benchmark named {name!r}")
    for module in modules:
        try:
            importlib.util.find_spec(module)  # type: ignore[attr-defined]
        except ModuleNotFoundError:
            continue
        if importlib.util.find_spec(module) is None:  # type: ignore[attr-defined]
            continue
        print(f"\n## {module}\n", flush=True)
        subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
