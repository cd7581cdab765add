"""`AppContext`: what every panel shares (workers, the sampler, the model session, theme)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.sources import default_sources
from gui.bridge import WorkerPool
from gui.sessions import SessionHolder
from gui.settings import RecentFiles, open_settings
from gui.theme import Theme, load_theme


class GenerationFeed(QObject):
    """Every generation event shown in the window, re-emitted for listeners (profiler).

    Consoles call `publish` from their main-thread slots with the events of one token
    batch (gui.bridge.worker); listeners get the list, oldest first, in one slot call:
    at ~100 tokens/s a signal per token would cost the GUI thread more than the charts.
    """

    started = Signal(float)  # monotonic time the generation was asked for
    received = Signal(object)  # list of engine.llm.events.TokenDelta | GenerationFinished

    def publish_started(self) -> None:
        self.started.emit(time.monotonic())

    def publish(self, events: Sequence[object]) -> None:
        if events:
            self.received.emit(list(events))


class AgentFeed(QObject):
    """The agent the person is working on, and the events of its runs.

    The designer emits `opened` with the agent file's path whenever it opens, creates or
    saves one; the run console follows it. The run console re-emits every run event
    (engine.agent.events.*) on `run_events` from its main-thread slots, a list per batch
    (oldest first, as `GenerationFeed.received`); the profiler's timeline, the memory
    browser and the Evaluation panel (the console's last task and answer) listen. The
    designer's Run suite emits `evaluate` with the saved file; the Evaluation panel runs it.
    """

    opened = Signal(object)  # pathlib.Path of the *.agent.yaml file
    # the designer's agent after every valid edit, saved or not (engine.agent.spec.AgentSpec):
    # run what the person sees with `launch.agent_run(agent, ..., spec=spec)`
    edited = Signal(object)
    run_events = Signal(object)  # list of engine.agent.events.RunEvent
    # the designer's "Run suite": the Evaluation panel runs a suite on this agent file (Path)
    evaluate = Signal(object)


class ProfileFeed(QObject):
    """Profiling sessions in the window: `show` a loaded session (engine ProfileSession)
    in the live profiler's read-only view; `saved` (Path) when one was written or deleted."""

    show = Signal(object)
    saved = Signal(object)


class AppContext(QObject):
    theme_changed = Signal(object)  # Theme

    def __init__(
        self, sample_hz: float = 10.0, sample_seconds: float = 600.0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.t0 = time.monotonic()
        self.settings = open_settings()
        self.pool = WorkerPool(self)
        self.sessions = SessionHolder(self)
        if not self.sessions.spinning_from_env:  # the Models panel's "Spin-wait threads"
            self.sessions.spinning = self.settings.value("runtime/spin", "true") == "true"
        self.generation = GenerationFeed(self)
        self.agents = AgentFeed(self)
        self.profiles = ProfileFeed(self)
        self.sampler = HardwareSampler(default_sources(), rate_hz=sample_hz, seconds=sample_seconds)
        self.recent_models = RecentFiles(self.settings, "model_sources")
        self.recent_agents = RecentFiles(self.settings, "agent_files")
        name = str(self.settings.value("theme", "dark"))
        self.theme: Theme = load_theme(name if name in ("dark", "light") else "dark")

    def set_theme(self, name: str) -> None:
        self.theme = load_theme(name)
        self.settings.setValue("theme", name)
        self.theme_changed.emit(self.theme)

    def start(self) -> None:
        self.sampler.start()

    def shutdown(self, wait_ms: int = 5000) -> None:
        self.pool.abort_all()
        self.pool.wait(wait_ms)
        self.sampler.stop()
        self.settings.sync()
