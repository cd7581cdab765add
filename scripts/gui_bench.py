"""Measure the window while the default model generates: Qt event-loop latency (a 10 ms
probe timer, p50/p99/max) and decode tok/s in the window vs headless `main.py generate`.

    AGENT_WORKBENCH_HOME=<home with a prepared "default"> QT_QPA_PLATFORM=offscreen \\
        python scripts/gui_bench.py --runs 5 --new-tokens 128

Each round: a window generation with the event-loop probe on (its lateness is the loop
latency; the probe's own wake-ups are measuring apparatus, so its decode rate is reported
apart as `window_probed_decode_tok_s`); one headless `main.py generate --json` (a new
process, the product's own defaults); one headless process with the window's session
options (`gui.sessions.SessionHolder`) and the window's warm-up (one unmeasured generation
first); a window generation with the probe off (`window_decode_tok_s`, the number the
ratios use); and a control in this process: the window's very session driven from the
main thread with the event loop stopped (same threads, options, warm-up and graph; only
the live window is missing). The profiler charts redraw throughout. On a shared machine
the load swings within seconds: each round records the 1-minute load average and, per
run, the share of the machine's CPU other processes used (/proc/stat minus our own
CPU); ratios are given as median over median, as the median of adjacent pairs, and over
the quiet rounds only (no run of the round disturbed by more than --quiet-below). Prints
one JSON object.
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

PROBE_MS = 10

PROMPT = (
    "The history of the lighthouse begins in the ancient world, where fires were lit on "
    "hilltops to guide ships home. Over the centuries"
)


class OthersCpu:
    """The share of the machine's CPU that other processes used during a block (0-1).

    /proc/stat's busy time minus this process's own CPU and its waited-for children's
    (a headless run is a child). None where /proc/stat does not exist.
    """

    share: float | None = None

    @staticmethod
    def _busy_s() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_s() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> OthersCpu:
        self._busy0, self._own0, self._t0 = self._busy_s(), self._own_s(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = self._busy_s()
        if busy is None or self._busy0 is None:
            return
        others = busy - self._busy0 - (self._own_s() - self._own0)
        wall = time.monotonic() - self._t0
        self.share = max(0.0, others) / (wall * (os.cpu_count() or 1))


def headless(model: str, new_tokens: int) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "agent_workbench", "generate", "--model", model]
    cmd += ["--prompt", PROMPT, "--max-new-tokens", str(new_tokens), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = json.loads(out.stdout)
    return float(data["decode_tok_s"]), int(data["new_tokens"])


def headless_like_window(model: str, new_tokens: int) -> float:
    """A fresh process with the window's session options and warm-up."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--model", model]
    cmd += ["--new-tokens", str(new_tokens)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(json.loads(out.stdout)["decode_tok_s"])


def _child(model: str, new_tokens: int) -> int:
    from gui.sessions import SessionHolder

    session = SessionHolder().load(model)
    _control_run(session, new_tokens)  # warm-up, as the window's first (unmeasured) run
    rate = _control_run(session, new_tokens)
    print(json.dumps({"decode_tok_s": rate}))
    return 0


def _percentiles(sorted_ms: list[float]) -> dict[str, float]:
    if not sorted_ms:
        return {}
    n = len(sorted_ms)
    return {
        "p50": round(sorted_ms[n // 2], 2),
        "p99": round(sorted_ms[max(0, int(n * 0.99) - 1)], 2),
        "max": round(sorted_ms[-1], 2),
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def window_runs(
    model: str,
    new_tokens: int,
    runs: int,
    between: Callable[[], None],
    others: dict[str, list[float | None]],
    idle_s: float = 5.0,
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
    probe.setInterval(PROBE_MS)
    last = {"t": 0}

    def on_probe() -> None:
        now = clock.nsecsElapsed()
        if recording["on"] and last["t"]:
            lateness.append(max(0.0, (now - last["t"]) / 1e6 - PROBE_MS))
        last["t"] = now

    probe.timeout.connect(on_probe)
    clock.start()
    probe.start()
    rates: list[float] = []
    control: list[float] = []
    loads: list[float] = []
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

    def generate_in_window(probing: bool) -> tuple[float, float]:
        """(decode tok/s, the GUI thread's CPU share) of one generation in the window."""
        loop = QEventLoop()
        worker = console.run()  # type: ignore[attr-defined]
        assert worker is not None
        worker.signals.done.connect(loop.quit)
        last["t"] = 0  # the gap before this run (a headless run) is not loop latency
        recording["on"] = probing
        if probing:
            probe.start()
        else:
            probe.stop()
        cpu0, wall0 = time.thread_time(), time.monotonic()
        loop.exec()
        cpu = (time.thread_time() - cpu0) / (time.monotonic() - wall0)
        recording["on"] = False
        probe.start()
        finished = console.finished  # type: ignore[attr-defined]
        if finished is None:
            raise SystemExit(f"generation failed: {console.status.text()}")  # type: ignore[attr-defined]
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            app.processEvents()  # type: ignore[attr-defined]
        return float(finished.stats.decode_tok_s), cpu

    generate_in_window(False)  # loads the session and warms it up (not measured)
    probed: list[float] = []
    for _ in range(runs):
        # The probe timer is measuring apparatus (PROBE_MS wake-ups of the GUI thread):
        # loop latency comes from the probed generation, decode from the unprobed one.
        rate, _cpu = generate_in_window(True)
        probed.append(rate)
        between()  # headless runs, alternating with the window's (the machine is noisy)
        with OthersCpu() as meter:
            rate, cpu = generate_in_window(False)
        others["window"].append(meter.share)
        rates.append(rate)
        gui_cpu.append(cpu)
        loads.append(os.getloadavg()[0])
        # the in-process control: same session, no event loop running
        with OthersCpu() as meter:
            control.append(_control_run(ctx.sessions.current, new_tokens))
        others["control"].append(meter.share)
        finished = console.finished  # type: ignore[attr-defined]
    window.close()
    lat = sorted(lateness)
    return {
        "idle_probe_samples": len(idle),
        "idle_loop_latency_ms": _percentiles(idle),
        "window_decode_tok_s": rates,
        "window_probed_decode_tok_s": probed,
        "control_decode_tok_s": control,
        "load_1min": [round(x, 2) for x in loads],
        "probe_samples": len(lat),
        "gui_thread_cpu_fraction": [round(c, 3) for c in gui_cpu],
        "loop_latency_ms": _percentiles(lat),
        "new_tokens": finished.stats.new_tokens,
    }


def _control_run(session: object, new_tokens: int) -> float:
    from engine.llm.events import GenerationFinished

    finished = None
    for event in session.generate(PROMPT, max_new_tokens=new_tokens):  # type: ignore[attr-defined]
        if isinstance(event, GenerationFinished):
            finished = event
    assert finished is not None
    return float(finished.stats.decode_tok_s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.05,
        help="a round is quiet when other processes used less than this share of the "
        "machine's CPU in each of its runs (default 0.05)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.model, args.new_tokens)
    from engine.manifest import model_folder as resolve_model

    # The model by path; the window's settings go to a scratch data home (the model's home
    # may be a read-only cache).
    model = str(resolve_model(args.model))
    os.environ["AGENT_WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="aw-gui-bench-")
    head: list[tuple[float, int]] = []
    like: list[float] = []

    others: dict[str, list[float | None]] = {
        "window": [],
        "headless": [],
        "headless_window_options": [],
        "control": [],
    }

    def between() -> None:
        with OthersCpu() as meter:
            head.append(headless(model, args.new_tokens))
        others["headless"].append(meter.share)
        with OthersCpu() as meter:
            like.append(headless_like_window(model, args.new_tokens))
        others["headless_window_options"].append(meter.share)

    result = window_runs(model, args.new_tokens, args.runs, between, others)
    head_rates = [r for r, _ in head]
    win_rates: list[float] = result["window_decode_tok_s"]  # type: ignore[assignment]
    control: list[float] = result["control_decode_tok_s"]  # type: ignore[assignment]
    win = statistics.median(win_rates)
    result.update(
        headless_decode_tok_s=head_rates,
        headless_new_tokens=[n for _, n in head],
        window_vs_headless=win / statistics.median(head_rates),
        window_vs_headless_pairs=statistics.median(
            [w / h for w, h in zip(win_rates, head_rates, strict=True)]
        ),
        headless_window_options_decode_tok_s=like,
        window_vs_headless_window_options=win / statistics.median(like),
        window_vs_headless_window_options_pairs=statistics.median(
            [w / h for w, h in zip(win_rates, like, strict=True)]
        ),
        window_vs_control=win / statistics.median(control),
        window_vs_control_pairs=statistics.median(
            [w / c for w, c in zip(win_rates, control, strict=True)]
        ),
        spread={
            "window": _spread(win_rates),
            "headless": _spread(head_rates),
            "headless_window_options": _spread(like),
            "control": _spread(control),
        },
    )
    # Rounds in which no other process used more than --quiet-below of the machine in any
    # of the four measured runs: the comparison that load on a shared machine cannot skew.
    quiet = [
        i
        for i in range(len(win_rates))
        if all(v[i] is not None and v[i] < args.quiet_below for v in others.values())
    ]
    result["others_cpu_share"] = {
        k: [None if x is None else round(x, 3) for x in v] for k, v in others.items()
    }
    result["quiet_rounds"] = quiet
    if quiet:
        result["quiet_window_vs_headless_pairs"] = statistics.median(
            [win_rates[i] / head_rates[i] for i in quiet]
        )
        result["quiet_window_vs_control_pairs"] = statistics.median(
            [win_rates[i] / control[i] for i in quiet]
        )
        result["quiet_window_vs_headless_window_options_pairs"] = statistics.median(
            [win_rates[i] / like[i] for i in quiet]
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
