"""The variants of a suite run: agent files x models x quantizations x providers.

    variants = expand(agents, models=("default",), quants=("int8", "int4"))

Each variant records what makes it that variant: the agent file and its sha256 (two
versions of one file are two variants), the prepared model's folder, quantization and
manifest hash, and the provider asked for. `ModelPool` loads each (model folder,
provider) once for the whole suite run, never once per task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.agent.agentfile import AgentFile
from engine.agent.agentfile import load as load_agent
from engine.agent.model import SessionModel
from engine.agent.spec import AgentSpec
from engine.errors import ModelError
from engine.eval.results import Variant
from engine.manifest import Manifest, is_prepared, model_folder, quantizations


@dataclass(frozen=True)
class Planned:
    """A variant and the loaded agent file it runs."""

    variant: Variant
    agent: AgentFile


def expand(
    agents: Sequence[Path | str],
    models: Sequence[str] = (),
    quants: Sequence[str] = (),
    providers: Sequence[str] = (),
    *,
    need_prepared: bool = True,
) -> list[Planned]:
    """Every combination, in this order: agent, model, quantization, provider. Empty
    `models` / `providers`: each agent file's own; empty `quants`: the model as named.
    `need_prepared=False` (a caller that brings its own model) allows unprepared names."""
    planned: list[Planned] = []
    loaded = [load_agent(a) for a in agents]
    for agent in loaded:
        for name in models or (None,):
            wanted = name or agent.spec.model.name
            for quant in quants or (None,):
                model = describe_model(wanted, quant, need_prepared=need_prepared)
                for provider in providers or (None,):
                    key = f"v{len(planned)}"
                    label = _label(agent, model, provider)
                    variant = Variant(key, label, _agent(agent), model, provider)
                    planned.append(Planned(variant, agent))
    return planned


def _agent(agent: AgentFile) -> dict[str, Any]:
    return {
        "path": str(agent.path.resolve()) if agent.path else None,
        "name": agent.spec.name,
        "sha256": agent.sha256,
    }


def _label(agent: AgentFile, model: dict[str, Any], provider: str | None) -> str:
    file = agent.path.name if agent.path else agent.spec.name
    quant = f" [{model['quantization']}]" if model.get("quantization") else ""
    return f"{file}@{agent.sha256[:8]} · {model['name']}{quant} · {provider or 'auto'}"


def describe_model(name: str, quant: str | None, *, need_prepared: bool = True) -> dict[str, Any]:
    """{"name", "folder", "quantization", "manifest_hash"} of a model name (a prepared
    model or a folder), or of its sibling of quantization `quant`."""
    folder = model_folder(name)
    if not is_prepared(folder):
        if need_prepared or quant:
            raise ModelError(
                f"no prepared model {name!r} (looked in {folder}); prepare it with "
                "`python main.py model prepare` or pick one from `python main.py model list`"
            )
        return {"name": name, "folder": str(folder), "quantization": quant, "manifest_hash": ""}
    if quant:
        found = {_recipe(f): f for f in quantizations(folder)}
        if quant not in found:
            have = ", ".join(f"{r} ({f.name})" for r, f in found.items())
            raise ModelError(
                f"no {quant} quantization of {name!r} is prepared (there are: {have}); "
                f"prepare one with `python main.py model prepare --quant {quant}`"
            )
        folder = found[quant]
    manifest = Manifest.read(folder)
    digest = hashlib.sha256((folder / "model.json").read_bytes()).hexdigest()
    return {
        "name": manifest.name,
        "folder": str(folder.resolve()),
        "quantization": _recipe(folder),
        "manifest_hash": digest,
    }


def _recipe(folder: Path) -> str:
    return str(Manifest.read(folder).quantization.get("recipe", "?"))


class ModelPool:
    """Loaded models, one per (folder, provider), kept for the whole suite run."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str | None], Any] = {}

    def model(self, folder: str, provider: str | None, spec: AgentSpec) -> SessionModel:
        """The model for one run, with the agent's sampling settings."""
        from engine.llm.session import LLMSession

        key = (folder, provider or spec.model.provider)
        if key not in self._sessions:
            self._sessions[key] = LLMSession(Path(folder), provider=key[1])
        return SessionModel(self._sessions[key], spec.model.sampling)

    def close(self) -> None:
        for session in self._sessions.values():
            close = getattr(session, "close", None)
            if callable(close):
                close()
        self._sessions.clear()
