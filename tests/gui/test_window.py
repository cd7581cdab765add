"""The main window: one dock per registered panel, shortcuts, themes, remembered state."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from gui.bridge import report
from gui.panels.registry import registered_panels
from tests.helpers.file_dialogs import answer, cancel


def test_every_registered_panel_is_a_dock(window) -> None:
    ids = [spec.id for spec in registered_panels()]
    assert {
        "models",
        "console",
        "profiler",
        "messages",
        "designer",
        "run",
        "memory",
        "profile_sessions",
        "bench_matrix",
    } <= set(ids)
    for spec in registered_panels():
        dock = window.docks[spec.id]
        # open (a dock behind another one's tab is open but not visible)
        assert dock.windowTitle() == spec.title and dock.toggleViewAction().isChecked()
        assert dock.toggleViewAction().shortcut().toString() == spec.shortcut


def test_default_arrangement_tabs_design_left_and_run_right(window) -> None:
    from PySide6.QtCore import Qt

    left = Qt.DockWidgetArea.LeftDockWidgetArea
    assert all(window.dockWidgetArea(window.docks[i]) == left for i in ("designer", "models"))
    assert window.docks["models"] in window.tabifiedDockWidgets(window.docks["designer"])
    assert window.docks["console"] in window.tabifiedDockWidgets(window.docks["run"])
    # the designer's and the run console's tabs are the ones in front
    assert not window.docks["designer"].visibleRegion().isEmpty()
    assert not window.docks["run"].visibleRegion().isEmpty()
    assert window.docks["models"].visibleRegion().isEmpty()
    assert window.docks["console"].visibleRegion().isEmpty()


def test_every_dock_is_where_its_registration_puts_it(window) -> None:
    """The registration is the layout: area, tab group (the host's area), host in front."""
    from gui.window import _AREAS

    specs = {spec.id: spec for spec in registered_panels()}
    for spec in specs.values():
        dock = window.docks[spec.id]
        host = specs.get(spec.tab_with)
        if host is None:
            assert window.dockWidgetArea(dock) == _AREAS[spec.area], spec.id
        else:
            assert window.dockWidgetArea(dock) == _AREAS[host.area], spec.id
            assert dock in window.tabifiedDockWidgets(window.docks[host.id]), spec.id
    assert window.tab_hosts == {"designer", "run", "profiler"}


def test_a_new_panel_is_placed_by_its_registration_alone(
    ctx, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    from gui.panels import registry
    from gui.window import MainWindow

    def notes(ctx: object) -> QLabel:
        return QLabel("notes")

    def scratch(ctx: object) -> QLabel:
        return QLabel("scratch")

    monkeypatch.setitem(
        registry._PANELS, "notes", registry.PanelSpec("notes", "Notes", notes, "top", 5)
    )
    monkeypatch.setitem(
        registry._PANELS,
        "scratch",
        registry.PanelSpec("scratch", "Scratch", scratch, "top", 6, tab_with="notes"),
    )
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    top = Qt.DockWidgetArea.TopDockWidgetArea
    assert win.dockWidgetArea(win.docks["notes"]) == top
    assert win.docks["scratch"] in win.tabifiedDockWidgets(win.docks["notes"])
    assert "notes" in win.tab_hosts
    qtbot.waitUntil(lambda: not win.docks["notes"].visibleRegion().isEmpty())


def test_panel_shortcut_toggles_its_dock(window, qtbot) -> None:
    dock = window.docks["profiler"]
    dock.toggleViewAction().trigger()
    assert not dock.isVisible()
    dock.toggleViewAction().trigger()
    assert dock.isVisible()
    lines = window.shortcut_lines()
    assert any(line.startswith("Ctrl+Q") for line in lines)
    assert any("Toggle theme" in line for line in lines)


def test_theme_switch_changes_palette_and_charts_and_is_saved(window, ctx) -> None:
    app = QApplication.instance()
    dark_window = app.palette().window().color().name()
    window.toggle_theme()
    assert ctx.theme.name == "light"
    assert app.palette().window().color().name() == ctx.theme.color("window") != dark_window
    chart = window.panels["profiler"].charts["cpu"]
    assert chart.backgroundBrush().color().name() == ctx.theme.chart("background")
    assert ctx.settings.value("theme") == "light"


def test_window_state_is_remembered(ctx, qtbot, _data_home: Path) -> None:
    from gui.context import AppContext
    from gui.window import MainWindow

    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    first.resize(1234, 1010)
    first.docks["messages"].hide()
    geometry = first.saveGeometry()
    first.close()
    assert (_data_home / "gui.ini").is_file()
    # (the offscreen screen is 800x600, so restoreGeometry clamps the size: compare bytes)
    assert ctx.settings.value("window/geometry") == geometry
    second = MainWindow(AppContext())
    qtbot.addWidget(second)
    second.show()
    assert not second.docks["messages"].isVisible()
    second.close()


def test_messages_reach_status_bar_and_messages_panel(window, qtbot) -> None:
    report("error", "the provider cuda could not start")
    qtbot.waitUntil(lambda: "cuda could not start" in window.statusBar().currentMessage())
    texts = window.panels["messages"].texts()
    assert any("error: the provider cuda could not start" in t for t in texts)


def test_open_model_folder_loads_it_and_remembers_it(
    window, ctx, qtbot, tiny_int4, monkeypatch
) -> None:
    actions = window.findChildren(QAction)
    (open_action,) = [a for a in actions if a.shortcut().toString() == "Ctrl+O"]
    calls = cancel(monkeypatch, "getExistingDirectory")
    open_action.trigger()  # File > Open prepared model folder…, then Cancel: nothing happens
    assert len(calls) == 1 and ctx.pool.active == 0 and ctx.sessions.current is None
    assert window.recent_folders.items() == []
    answer(monkeypatch, "getExistingDirectory", str(tiny_int4))
    with qtbot.waitSignal(ctx.sessions.changed, timeout=60000):
        open_action.trigger()
    assert ctx.sessions.current.folder == tiny_int4
    assert window.recent_folders.items() == [tiny_int4.resolve()]
    qtbot.waitUntil(lambda: "running on cpu" in window.provider_label.text())
    console = window.panels["console"]
    assert console.model.currentText() == str(tiny_int4)  # outside the data home: by path
    window._fill_recent()
    assert [a.text() for a in window.recent_menu.actions()] == [str(tiny_int4.resolve())]


def test_a_layout_saved_with_other_panels_is_not_restored(window) -> None:
    settings = window.ctx.settings
    settings.setValue("window/state", window.saveState(window.state_version() + 1))
    assert window.restore_state() is False  # a release added or removed a panel
    settings.setValue("window/state", window.saveState(window.state_version()))
    assert window.restore_state() is True
