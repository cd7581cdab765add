"""Measure the window while the default model generates: Qt event-loop latency (a 10 ms
probe timer, p50/p99/max) and decode tok/s in the window vs headless `main.py generate`.

    AGENT_WORKBENCH_HOME=<home with a prepared "default"> QT_QPA_PLATFORM=offscreen \\
        python scripts/gui_bench.py --runs 3 --new-tokens 128

Headless runs (subprocesses) alternate with the window's runs (this process, profiler
charts redrawing); the event-loop probe only records during the window's generations.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = (
    "The history of the lighthouse begins in the ancient world, where fires were lit on "
    "hilltops to guide ships home. Over the centuries"
)


def headless(model: str, new_tokens: int) -> tuple[float, int]:
    cmd = [sys.executable, str(ROOT / "main.py"), "generate", "--model", model]
    cmd += ["--prompt", PROMPT, "--max-new-tokens", str(new_tokens), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = json.loads(out.stdout)
    return float(data["decode_tok_s"]), int(data["new_tokens"])


def _percentiles(sorted_ms: list[float]) -> dict[str, float]:
    if not sorted_ms:
        return {}
    n = len(sorted_ms)
    return {
        "p50": round(sorted_ms[n // 2], 2),
        "p99": round(sorted_ms[max(0, int(n * 0.99) - 1)], 2),
        "max": round(sorted_ms[-1], 2),
    }


def window_runs(
    model: str, new_tokens: int, runs: int, between: Callable[[], None], idle_s: float = 5.0
) -> dict[str, object]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from gui.app import create_app
    from gui.context import AppContext
    from gui.theme import apply_theme
    from gui.window import MainWindow

    app = create_app()
    ctx = AppContext()
    apply_theme(app, ctx.theme)  # type: ignore[arg-type]
    ctx.start()
    window = MainWindow(ctx)
    window.show()
    if os.environ.get("GUI_BENCH_HIDE_PROFILER"):  # to see what the live charts cost
        window.docks["profiler"].hide()
    console = window.panels["console"]
    console.model.setCurrentText(model)  # type: ignore[attr-defined]
    console.chat.setChecked(False)  # type: ignore[attr-defined]
    console.max_tokens.setValue(new_tokens)  # type: ignore[attr-defined]
    console.prompt.setPlainText(PROMPT)  # type: ignore[attr-defined]
    lateness: list[float] = []
    recording = {"on": False}
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setInterval(10)
    last = {"t": 0}

    def on_probe() -> None:
        now = clock.nsecsElapsed()
        if recording["on"] and last["t"]:
            lateness.append(max(0.0, (now - last["t"]) / 1e6 - 10.0))
        last["t"] = now

    probe.timeout.connect(on_probe)
    clock.start()
    probe.start()
    rates: list[float] = []
    gui_cpu: list[float] = []
    # Control: the same probe for a few seconds with the window idle (charts running).
    recording["on"] = True
    end = time.monotonic() + idle_s
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.001)
    recording["on"] = False
    idle = sorted(lateness)
    lateness.clear()
    for i in range(runs + 1):  # the first run loads the session (not measured)
        if i > 0:
            between()  # one headless run, alternating with the window's (the machine is noisy)
        loop = QEventLoop()
        worker = console.run()  # type: ignore[attr-defined]
        assert worker is not None
        worker.signals.done.connect(loop.quit)
        last["t"] = 0  # the gap before this run (a headless run) is not loop latency
        recording["on"] = i > 0
        cpu0, wall0 = time.thread_time(), time.monotonic()
        loop.exec()
        if i > 0:  # CPU the GUI thread itself used while the model generated
            gui_cpu.append((time.thread_time() - cpu0) / (time.monotonic() - wall0))
        recording["on"] = False
        finished = console.finished  # type: ignore[attr-defined]
        if finished is None:
            raise SystemExit(f"generation failed: {console.status.text()}")  # type: ignore[attr-defined]
        if i > 0:
            rates.append(finished.stats.decode_tok_s)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            app.processEvents()  # type: ignore[attr-defined]
    window.close()
    lat = sorted(lateness)
    return {
        "idle_probe_samples": len(idle),
        "idle_loop_latency_ms": _percentiles(idle),
        "window_decode_tok_s": rates,
        "probe_samples": len(lat),
        "gui_thread_cpu_fraction": [round(c, 3) for c in gui_cpu],
        "loop_latency_ms": _percentiles(lat),
        "new_tokens": finished.stats.new_tokens,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=128)
    args = parser.parse_args()
    from engine.cli import resolve_model

    # The model by path; the window's settings go to a scratch data home (the model's home
    # may be a read-only cache).
    model = str(resolve_model(args.model))
    os.environ["AGENT_WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="aw-gui-bench-")
    head: list[tuple[float, int]] = []
    result = window_runs(
        model, args.new_tokens, args.runs, lambda: head.append(headless(model, args.new_tokens))
    )
    head_rates = [r for r, _ in head]
    win = statistics.median(result["window_decode_tok_s"])  # type: ignore[arg-type]
    result.update(
        headless_decode_tok_s=head_rates,
        headless_new_tokens=[n for _, n in head],
        window_vs_headless=win / statistics.median(head_rates),
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
