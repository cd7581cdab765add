"""Screenshot of the live profiler with its run timeline (docs/screenshot-profiler.png).

Opens the window, starts a recording, replays a scripted agent run (engine.agent.events,
timed like a real plan_execute run with a tool call, a memory hit and a subtask still
open) through `ctx.agents.run_events`, then runs a real generation on the model in the
console and saves the profiler dock once it is done. The agent run is scripted (no agent
model runs here); the generation and all counters are real.

    AGENT_WORKBENCH_HOME=... QT_QPA_PLATFORM=offscreen \\
        python scripts/screenshot_profiler.py --model default --out docs/screenshot-profiler.png
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer

from engine.agent.events import (
    FinalAnswer,
    MemoryHit,
    PlanStep,
    RunFinished,
    RunMetrics,
    RunStarted,
    ToolCall,
    ToolResult,
)
from engine.agent.events import TokenDelta as AgentToken


def agent_script(t: float) -> list[tuple[float, object]]:
    """(delay s, event) of a scripted run, times on the monotonic clock from `t`."""
    plan = ("find the population", "compute the density", "answer")
    steps: list[tuple[float, object]] = [
        (0.0, RunStarted(t, 0, "demo", "researcher", "population density of Lyon?",
                         "plan_execute", "default", ("search", "calc"), None)),
        (0.3, PlanStep(t + 0.3, 0, plan)),
        (0.4, MemoryHit(t + 0.4, 0, "Lyon", "Lyon: 522,000 inhabitants (2020)", 0.82)),
        (0.5, PlanStep(t + 0.5, 1, plan, status="started", index=0)),
        (0.9, AgentToken(t + 0.9, 1, "I will search")),
        (1.1, ToolCall(t + 1.1, 1, "search", {"q": "Lyon population"})),
        (1.9, ToolResult(t + 1.9, 1, "search", True, "522,000", duration_s=0.8)),
        (2.0, PlanStep(t + 2.0, 1, plan, status="done", index=0, result="522,000")),
        (2.1, PlanStep(t + 2.1, 2, plan, status="started", index=1)),
        (2.4, ToolCall(t + 2.4, 2, "calc", {"expr": "522000/47.87"})),
        (2.6, ToolResult(t + 2.6, 2, "calc", True, "10904.5", duration_s=0.2)),
        (2.7, PlanStep(t + 2.7, 2, plan, status="done", index=1, result="10904")),
        (2.8, PlanStep(t + 2.8, 3, plan, status="started", index=2)),
        (3.3, FinalAnswer(t + 3.3, 3, "About 10,900 inhabitants per km².")),
        (3.4, RunFinished(t + 3.4, 3, "final_answer", "About 10,900 per km²", RunMetrics())),
    ]  # fmt: skip
    return steps


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default="docs/screenshot-profiler.png")
    parser.add_argument("--theme", default="dark")
    args = parser.parse_args()
    from gui.app import create_app, start_demo
    from gui.context import AppContext
    from gui.window import MainWindow

    app = create_app()
    ctx = AppContext()
    ctx.set_theme(args.theme)
    ctx.start()
    window = MainWindow(ctx)
    window.resize(1500, 1000)
    window.show()
    profiler = window.panels["profiler"]
    profiler.controls.record()  # type: ignore[attr-defined]
    start = time.monotonic() + 0.5
    feed = ctx.agents.run_events
    for delay, event in agent_script(start):
        QTimer.singleShot(int((0.5 + delay) * 1000), lambda e=event: feed.emit([e]))

    def generate() -> None:
        worker = start_demo(window, args.model)
        worker.signals.done.connect(lambda: QTimer.singleShot(1500, shoot))  # type: ignore[attr-defined]

    def shoot() -> None:
        profiler.controls.stop()  # type: ignore[attr-defined]
        dock = window.docks["profiler"]
        dock.raise_()
        app.processEvents()  # type: ignore[attr-defined]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(args.out)
        profiler.grab().save(str(Path(args.out).with_name("screenshot-profiler-panel.png")))
        sys.stderr.write(f"screenshot: {args.out} ({'ok' if ok else 'failed'})\n")
        profiler.controls.discard()  # type: ignore[attr-defined]  # or closing would ask
        window.close()
        ctx.shutdown()
        app.quit()  # type: ignore[attr-defined]

    QTimer.singleShot(4500, generate)
    return int(app.exec())  # type: ignore[attr-defined]


if __name__ == "__main__":
    raise SystemExit(main())
