"""`SessionHolder`: the one loaded LLMSession the window generates with.

Loading happens in a worker (`load` is thread-safe); `changed` reaches the GUI queued.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal

from engine.errors import WorkbenchError
from engine.llm.providers import session_options
from engine.llm.session import LLMSession
from engine.manifest import model_folder


class SessionHolder(QObject):
    changed = Signal(object)  # the new LLMSession

    def __init__(self, parent: QObject | None = None, spinning: bool | None = None) -> None:
        super().__init__(parent)
        #: ONNX Runtime's intra-op threads spin between ops, as in `main.py generate`
        #: (~20% faster decode on an idle 2-core machine; docs/performance.md). On a machine
        #: busy with other work spinning can cost more than it gains:
        #: AGENT_WORKBENCH_GUI_SPIN=0 turns it off.
        env = os.environ.get("AGENT_WORKBENCH_GUI_SPIN")
        #: whether the environment decided it (then the window's setting does not apply)
        self.spinning_from_env = spinning is None and env is not None
        self.spinning = spinning if spinning is not None else env != "0"
        self._lock = threading.Lock()
        self._busy = threading.Lock()
        self._busy_with = ""
        self._session: LLMSession | None = None
        self._key: tuple[str, str, bool] | None = None

    @property
    def current(self) -> LLMSession | None:
        return self._session

    @property
    def current_spins(self) -> bool | None:
        """Whether the loaded session's threads spin (None: no session)."""
        return None if self._key is None else self._key[2]

    def load(self, model: str, provider: str = "auto") -> LLMSession:
        """The session for (model, provider), reusing the loaded one when it matches (and
        was made with the current `spinning`; a change takes effect at the next load)."""
        folder = model_folder(model)
        key = (str(folder.resolve()), provider, self.spinning)
        with self._lock:
            if self._session is not None and self._key == key:
                return self._session
            options = session_options()
            spin = "1" if self.spinning else "0"  # "1" is ONNX Runtime's default
            options.add_session_config_entry("session.intra_op.allow_spinning", spin)
            session = LLMSession(folder, provider=provider, options=options)
            self._session, self._key = session, key
        self.changed.emit(session)
        return session

    @contextlib.contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """Hold the window's one model for a generation or an agent run. A second one
        fails at once with a message instead of sharing the session's KV cache."""
        if not self._busy.acquire(blocking=False):
            raise WorkbenchError(
                f"the model is busy with {self._busy_with or 'another job'}: stop it or wait "
                "for it to finish, then run this again"
            )
        self._busy_with = what
        try:
            yield
        finally:
            self._busy_with = ""
            self._busy.release()


def load_session(state: object, holder: SessionHolder, model: str, provider: str) -> str:
    """Worker body (`gui.bridge.Worker`): load a session; `changed` tells the window."""
    return holder.load(model, provider).provider.describe()
