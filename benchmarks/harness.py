"""Measure a function's wall time and peak memory in a fresh subprocess.

Each measurement runs ``module:function(**kwargs)`` in its own Python process so that its peak
resident set size (``VmHWM``) is its own, and nothing cached by an earlier stage helps it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_RUNNER = r"""
import importlib, json, sys, time

def hwm_mb():
    # VmHWM is this process's own peak; ru_maxrss is inherited across fork/exec on Linux.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

mod, fn, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
func = getattr(importlib.import_module(mod), fn)
setup = getattr(importlib.import_module(mod), "setup_" + fn, None)
state = setup(**kwargs) if setup else None
base = hwm_mb()
t0 = time.perf_counter()
extra = func(state, **kwargs) if setup else func(**kwargs)
seconds = time.perf_counter() - t0
peak = hwm_mb()
print("__RESULT__" + json.dumps({"seconds": seconds, "peak_rss_mb": peak, "setup_rss_mb": base, "extra": extra if isinstance(extra, dict) else None}))
"""


def measure(module: str, function: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``module.function(**kwargs)`` in a subprocess; return seconds and peak RSS (MB).

    When the module defines ``setup_<function>(**kwargs)``, it runs first (untimed) and its
    return value is passed as the first argument of the function. ``peak_rss_mb`` is the process
    peak including the setup; ``setup_rss_mb`` is the peak before the timed part started.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, module, function, json.dumps(kwargs)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("__RESULT__"):
            return json.loads(line.removeprefix("__RESULT__"))
    raise RuntimeError(f"benchmark {module}.{function}({kwargs}) failed:\n{proc.stderr[-4000:]}")


def parse_scale(text: str) -> list[int]:
    """``"100k,1m,10m"`` → ``[100_000, 1_000_000, 10_000_000]``."""
    sizes = []
    for part in text.replace(" ", "").lower().split(","):
        if not part:
            continue
        mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
        sizes.append(int(float(part.rstrip("km")) * mult))
    return sizes
