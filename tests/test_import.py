"""`import vlkit` stays light: no optional heavy deps, no network."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("cv2", "decord", "webdataset", "pycocoevalcap", "av")


def test_import_is_light_and_offline() -> None:
    code = (
        "import socket, sys\n"
        "def _no_net(*a, **k):\n"
        "    raise AssertionError('network access during import')\n"
        "socket.socket.connect = _no_net\n"
        "socket.create_connection = _no_net\n"
        "import vlkit, vlkit.common.config\n"
        "from vlkit.common.registry import registry\n"
        "registry.list_models(); registry.list_processors(); registry.list_builders(); registry.list_tasks()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_python_dash_m_vlkit() -> None:
    out = subprocess.run([sys.executable, "-m", "vlkit", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "list" in out.stdout
