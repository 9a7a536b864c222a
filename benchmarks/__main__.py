"""Run every benchmark in turn: ``python -m benchmarks`` (or ``nox -s bench``).

Each prints a table of medians and ratios against a raw call and a hand-written
OpenTelemetry span measured in the same run. Never run in CI: timings are not tests.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from ._common import ROOT

CORE = ["benchmarks.overhead", "benchmarks.burst"]
OTHERS = [
    "benchmarks.frameworks",
    "benchmarks.llm",
    "benchmarks.server_ingest",
    "benchmarks.server_label_join",
    "benchmarks.dashboard",
]


def main() -> None:
    for module in CORE + OTHERS:
        try:
            importlib.util.find_spec(module)  # type: ignore[attr-defined]
        except ModuleNotFoundError:
            continue
        if importlib.util.find_spec(module) is None:  # type: ignore[attr-defined]
            continue
        print(f"\n## {module}\n", flush=True)
        subprocess.run([sys.executable, "-m", module, *sys.argv[1:]], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
