"""The ``aither server`` process sets its garbage collector for ingest; an embedded one does not."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from aither.server.config import ServerSettings
from aither.server.run import GC_THRESHOLD, EmbeddedServer


def test_tune_gc_freezes_what_is_alive_and_collects_the_young_generation_less_often() -> None:
    # in a process of its own: the collector's settings are the whole process's
    code = (
        "import gc\n"
        "from aither.server.run import tune_gc\n"
        "print(*gc.get_threshold(), gc.get_freeze_count() > 0)\n"
        "tune_gc()\n"
        "print(*gc.get_threshold(), gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    before, after = out.stdout.splitlines()
    assert before.endswith(" False")  # a fresh interpreter: its defaults, nothing frozen
    assert after == " ".join(map(str, GC_THRESHOLD)) + " True"
    assert GC_THRESHOLD[0] > int(before.split()[0])  # the young generation collected less often


def test_an_embedded_server_leaves_its_hosts_collector_alone(tmp_path: Path) -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    settings = ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        port=0,
        announce=False,
        write_credentials=False,
    )
    with EmbeddedServer(settings):
        assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
