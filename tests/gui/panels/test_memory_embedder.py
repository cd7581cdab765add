"""Memory browser without a prepared embedder: the message with the fix, and the button
that prepares the default embedder in a worker (the real pipeline)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers.cache import cache_root
from tests.helpers.memory_browser import FACTS, listed_panel, wait_op


def test_missing_embedder_says_so_and_how_to_fix(
    qtbot, make_panel, notes, messages, _data_home: Path
) -> None:
    (_data_home / "settings.toml").unlink()  # back to the default embedder: not prepared here
    panel = listed_panel(qtbot, make_panel)
    banner = panel.banner
    assert not banner.isHidden() and not banner.ready
    text = banner.message.text()
    assert text.startswith("No embedder is prepared (")
    assert "default-embedder has no model.json" in text
    assert "python main.py model prepare --source embedder-default" in text
    assert not banner.button.isHidden()
    assert len(panel.pages.rows) == 6  # listing works without an embedder
    panel.query.setText("vpn port")
    with qtbot.waitSignal(panel.failed, timeout=30_000):
        panel.run_search()
    errors = [m for m in messages if m.level == "error"]
    assert "the embedder 'default-embedder' is not prepared" in errors[-1].text
    assert "model prepare --source embedder-default" in errors[-1].text


def test_a_custom_embedder_in_settings_is_named(qtbot, make_panel, notes, _data_home: Path) -> None:
    (_data_home / "settings.toml").write_text('[memory]\nembedder = "my-encoder"\n')
    panel = listed_panel(qtbot, make_panel)
    text = panel.banner.message.text()
    assert "prepare the embedder 'my-encoder' named in settings.toml" in text
    assert panel.banner.button.isHidden()  # the button prepares only the default one


def test_bad_settings_file_is_reported_and_defaults_used(
    qtbot, make_panel, messages, _data_home: Path
) -> None:
    _data_home.mkdir(parents=True, exist_ok=True)
    (_data_home / "settings.toml").write_text("[memory]\nhnsw_treshold = 5\n")
    panel = make_panel()
    assert any("unknown [memory] settings hnsw_treshold" in m.text for m in messages)
    assert panel.banner.settings.hnsw_threshold == 20_000


def test_prepare_button_prepares_the_default_embedder(
    qtbot, make_panel, notes, _data_home: Path, default_embedder: Path
) -> None:
    # The fp32 export is cached per source hash (models/.work): reuse the test cache's, so
    # the button runs the real quantization and validation, not a 2-minute export.
    work = cache_root() / "embedder-home" / "models" / ".work"
    shutil.copytree(work, _data_home / "models" / ".work")
    (_data_home / "settings.toml").unlink()
    panel = listed_panel(qtbot, make_panel)
    assert not panel.banner.button.isHidden()
    stages: list[str] = []
    panel.banner.button.click()
    panel.banner.worker.signals.yielded.connect(lambda p: stages.append(p.stage))
    with qtbot.waitSignal(panel.banner.prepared, timeout=300_000) as got:
        pass
    assert got.args == ["default-embedder"]
    assert "validate" in stages and stages[-1] == "done"  # really built, not reused
    assert (_data_home / "models" / "default-embedder" / "model.json").is_file()
    qtbot.waitUntil(lambda: panel.banner.isHidden(), timeout=30_000)
    qtbot.waitUntil(lambda: panel.pages.total == 6 and not panel.pages.pending, timeout=30_000)
    panel.query.setText("which port does the VPN use?")
    with wait_op(qtbot, panel, "search"):
        panel.run_search()
    assert panel.hits.rows[0].item.text == FACTS[4]
