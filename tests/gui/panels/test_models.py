"""Model manager: real prepared folders, loading a session on a provider, preparing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.panels.models import COLUMNS, QtModelManager
from tests.helpers.file_dialogs import answer, cancel, forbid


def test_lists_real_prepared_folders_with_manifests(ctx, qtbot, tiny_models: Path) -> None:
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    names = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    on_disk = sorted(
        p.name for p in (tiny_models / "models").iterdir() if (p / "model.json").exists()
    )
    assert names == on_disk and "tiny-int4" in names
    row = [panel.table.item(names.index("tiny-int4"), c).text() for c in range(len(COLUMNS))]
    assert row[1] == "gemma3" and row[2] == "fused"
    assert row[3] == "int4" and row[4].endswith("MB") and row[6] == "base"
    assert row[5] != "not validated" and row[7].startswith("hf:")
    panel.select_model("tiny-int4")
    assert "quantization: int4" in panel.details.toPlainText()
    assert f"folder: {tiny_models / 'models' / 'tiny-int4'}" in panel.details.toPlainText()
    assert "family: gemma3; attention fused: 2 layers" in panel.details.toPlainText()
    assert "validation: top-1 agreement" in panel.details.toPlainText()
    assert not panel.empty.isVisible()


@pytest.mark.export
def test_an_unfused_model_shows_why(ctx, qtbot, tmp_path: Path) -> None:
    """Prepared from the box with fusion unchecked, the model is listed with what
    `model list --json` gives: family, fused or not and why."""
    from tests.helpers.tiny_families import build_family_folder

    source = build_family_folder("olmo2", tmp_path / "olmo2")
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    box = panel.prepare_box
    assert box.fuse.isChecked()
    box.kind.setCurrentText("Hugging Face folder")
    box.path.setText(str(source))
    box.quant.setCurrentText("fp32")
    box.name.setText("olmo")
    box.fuse.setChecked(False)
    box.start()
    qtbot.waitUntil(lambda: box.worker is None, timeout=180000)
    assert box.progress.message.text() == "prepared olmo"
    row = [panel.table.item(0, c).text() for c in range(len(COLUMNS))]
    assert row[:4] == ["olmo", "olmo2", "unfused", "fp32"]
    attention = panel.table.item(0, COLUMNS.index("attention"))
    assert attention.toolTip() == "not fused: --no-fuse"
    assert "family: olmo2; attention not fused: --no-fuse" in panel.details.toPlainText()


def test_empty_data_home_says_how_to_prepare(ctx, qtbot) -> None:
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    assert panel.table.rowCount() == 0
    assert "No prepared models yet" in panel.empty.text()
    assert not panel.load_button.isEnabled()


def test_load_shows_what_the_session_really_runs_on(ctx, qtbot, tiny_models: Path) -> None:
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    panel.select_model("tiny-int4")
    panel.provider.setCurrentText("cuda")
    with qtbot.waitSignal(ctx.sessions.changed, timeout=60000):
        panel.load_button.click()
    qtbot.waitUntil(lambda: "running on cpu" in panel.runtime.text(), timeout=5000)
    text = panel.runtime.text()
    assert "asked for <b>cuda</b>" in text
    assert "cuda is not available" in text or "could not start" in text
    assert ctx.sessions.current.provider.active == "cpu"


def test_prepare_bad_source_shows_the_error(ctx, qtbot, tmp_path: Path) -> None:
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    box = panel.prepare_box
    box.kind.setCurrentText("Hugging Face folder")
    box.path.setText(str(tmp_path / "missing-folder"))
    box.start()
    qtbot.waitUntil(lambda: box.worker is None, timeout=30000)
    assert "failed:" in box.progress.message.text()
    assert "does not exist" in box.progress.message.text()
    assert box.start_button.isEnabled()


@pytest.mark.export
def test_prepare_a_hf_folder_with_progress_then_cancel(ctx, qtbot, tiny_hf: Path) -> None:
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    box = panel.prepare_box
    box.kind.setCurrentText("Hugging Face folder")
    box.path.setText(str(tiny_hf))
    box.quant.setCurrentText("fp32")  # a random tiny model keeps no agreement in 8 bits
    box.name.setText("tiny-gui")
    stages: list[str] = []
    box.start()
    box.worker.signals.yielded.connect(lambda p: stages.append(p.stage))
    qtbot.waitUntil(lambda: box.worker is None, timeout=180000)
    assert box.progress.message.text() == "prepared tiny-gui"
    assert "tiny-gui" in [m.name for m in panel.manifests]
    assert panel.selected().name == "tiny-gui"
    assert stages and box.progress.bar.value() == 1000
    assert str(tiny_hf.resolve()) in [str(p) for p in ctx.recent_models.items()]
    # Again under another name, cancelled at its first progress report: nothing is kept.
    box.name.setText("tiny-cancelled")
    box.start()
    box.progress.cancel.click()  # the engine's Reporter raises Cancelled at its next report
    qtbot.waitUntil(lambda: box.worker is None, timeout=180000)
    assert "cancelled" in box.progress.message.text()
    panel.refresh()
    assert "tiny-cancelled" not in [m.name for m in panel.manifests]


@pytest.mark.parametrize(
    ("kind", "method", "other"),
    [
        ("GGUF file", "getOpenFileName", "getExistingDirectory"),
        ("Hugging Face folder", "getExistingDirectory", "getOpenFileName"),
    ],
)
def test_browse_fills_the_source_and_cancel_keeps_it(
    ctx, qtbot, tmp_path: Path, monkeypatch, kind: str, method: str, other: str
) -> None:
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    box = panel.prepare_box
    box.kind.setCurrentText(kind)
    box.path.setText("/typed/before")
    forbid(monkeypatch, other)
    calls = cancel(monkeypatch, method)
    box.browse.click()
    assert len(calls) == 1 and box.source() == "/typed/before"
    chosen = tmp_path / ("model.gguf" if kind == "GGUF file" else "hf-model")
    opened = (str(chosen), "GGUF (*.gguf)") if method == "getOpenFileName" else str(chosen)
    answer(monkeypatch, method, opened)
    box.browse.click()
    assert box.source() == str(chosen)
    box.start()  # prepares what was chosen: here it does not exist, and the error says so
    qtbot.waitUntil(lambda: box.worker is None, timeout=30000)
    message = box.progress.message.text()
    assert message.startswith("failed:") and "does not exist" in message and str(chosen) in message


def _spin_entry(ctx) -> str:
    options = ctx.sessions.current.session.get_session_options()
    return options.get_session_config_entry("session.intra_op.allow_spinning")


def test_spin_wait_applies_at_the_next_load_and_is_remembered(
    ctx, qtbot, tiny_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gui.context import AppContext

    home = Path(ctx.settings.fileName()).parent  # the test's own data home (settings)
    panel = QtModelManager(ctx)
    qtbot.addWidget(panel)
    panel.select_model("tiny-int4")
    assert panel.spin.isChecked() and panel.spin.isEnabled()  # as `main.py generate`
    with qtbot.waitSignal(ctx.sessions.changed, timeout=60000):
        panel.load_button.click()
    qtbot.waitUntil(lambda: "spin-wait on" in panel.runtime.text(), timeout=5000)
    first = ctx.sessions.current
    assert _spin_entry(ctx) == "1"
    panel.spin.setChecked(False)
    assert "Load again" in panel.runtime.text() and ctx.sessions.current is first
    qtbot.waitUntil(panel.load_button.isEnabled)  # the first load's worker has ended
    with qtbot.waitSignal(ctx.sessions.changed, timeout=60000):
        panel.load_button.click()
    qtbot.waitUntil(lambda: "spin-wait off" in panel.runtime.text(), timeout=5000)
    assert ctx.sessions.current is not first and _spin_entry(ctx) == "0"
    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(home))
    later = AppContext()  # the next start of the window
    try:
        assert later.sessions.spinning is False
    finally:
        later.shutdown()


def test_the_environment_overrides_spin_wait(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    from gui.context import AppContext

    monkeypatch.setenv("AGENT_WORKBENCH_GUI_SPIN", "0")
    ctx = AppContext()
    try:
        panel = QtModelManager(ctx)
        qtbot.addWidget(panel)
        assert ctx.sessions.spinning is False
        assert not panel.spin.isChecked() and not panel.spin.isEnabled()
    finally:
        ctx.shutdown()
