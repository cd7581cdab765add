"""`SessionRecorder`: Record / Stop of a profiling session from the window's event feeds.

An engine `Recorder` with its own `HardwareSampler` (so stopping it never stops the
live charts' sampler) receives every event of `ctx.generation` and `ctx.agents.run_events`
while recording, split into runs by `RunRouter` (a plain generation, an agent run).
Stop builds the `ProfileSession` (engine format; `session_file.save` writes it).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.telemetry.recorder import Recorder
from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.session_file import ProfileSession
from engine.telemetry.sources import default_sources
from gui.timeline_data import RunRouter


class _Router(RunRouter):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def begin(self, label: str, kind: str, t: float) -> None:
        self.recorder.begin_run(label, kind)

    def record(self, event: object) -> None:
        self.recorder.record(event)

    def end(self, t: float) -> None:
        if self.recorder.current is not None:
            self.recorder.end_run()


class SessionRecorder(QObject):
    """One recording at a time; `state_changed(bool recording)`."""

    state_changed = Signal(bool)

    def __init__(self, ctx: QObject, rate_hz: float = 10.0) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.rate_hz = rate_hz
        self.recorder: Recorder | None = None
        self._router: _Router | None = None

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def start(self, name: str = "window") -> None:
        if self.recorder is not None:
            return
        sampler = HardwareSampler(default_sources(), rate_hz=self.rate_hz, seconds=3600.0)
        self.recorder = Recorder(name=name, sampler=sampler, command=["gui", "record"])
        self.recorder.start()
        self._router = _Router(self.recorder)
        gen, agents = self.ctx.generation, self.ctx.agents  # type: ignore[attr-defined]
        gen.started.connect(self._router.on_generation_started)
        gen.received.connect(self._router.on_generation_events)
        agents.run_events.connect(self._router.on_agent_events)
        self.state_changed.emit(True)

    def stop(self) -> ProfileSession | None:
        """Finish the recording (open runs end now, their open spans as incomplete)."""
        recorder, router = self.recorder, self._router
        if recorder is None or router is None:
            return None
        gen, agents = self.ctx.generation, self.ctx.agents  # type: ignore[attr-defined]
        gen.started.disconnect(router.on_generation_started)
        gen.received.disconnect(router.on_generation_events)
        agents.run_events.disconnect(router.on_agent_events)
        self.recorder, self._router = None, None
        session = recorder.finish()
        self.state_changed.emit(False)
        return session
