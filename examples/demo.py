"""The demo behind ``aither demo``: start a server, train, serve through ``wrap``, label, report.

Run it as written (it starts its own server on a free port and stops it at the end)::

    pip install 'aither[server,sklearn]'
    python examples/demo.py

or against a server you already run::

    AITHER_BASE_URL=http://127.0.0.1:4680 AITHER_API_KEY=aith_... python examples/demo.py
"""

from __future__ import annotations

from aither.cli.demo import run_demo

if __name__ == "__main__":
    result = run_demo()
    version = result.metrics.versions[0]
    accuracy = version.classification.accuracy if version.classification else float("nan")
    print(f"{result.predictions} prediction calls, {result.labels} labels; accuracy {accuracy:.3f}")
