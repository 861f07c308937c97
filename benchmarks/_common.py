"""Helpers shared by the benchmarks: machine description, peak memory, child processes,
training overrides."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from datetime import date
from pathlib import Path

OUT = Path("runs/benchmarks")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    python = platform.python_version()
    return f"{platform.machine()}, {cpu} ({cores} cores), Python {python}, {date.today()}"


def training_options(items: list[str]) -> list[str]:
    """--option KEY=VALUE items as LightningCLI arguments."""
    pairs = [item.partition("=") for item in items]
    return [text for key, _, value in pairs for text in (f"--{key}", value)]


def peak_gb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_child(script: str, args: list[str], timeout: float, describe: dict) -> dict:
    """Run `python script --child ARGS` in a fresh process (its own peak memory); its last
    stdout line is a JSON record."""
    command = [sys.executable, script, "--child", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {**describe, "failed": f"over {timeout:.0f} s"}
    except subprocess.CalledProcessError as error:
        lines = (error.stderr or "").strip().splitlines() or [f"exit {error.returncode}"]
        return {**describe, "failed": lines[-1][:120]}
