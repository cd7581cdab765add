"""Settings forms generated from a built-in tool's settings schema."""

from __future__ import annotations

from engine.tools.catalog import BUILTINS
from gui.agent_model import AgentModel
from gui.widgets.schema_form import SettingField, settings_fields


def _model() -> AgentModel:
    model = AgentModel()
    model.data = {"tools": [{"name": "http.get"}]}
    return model


def test_one_field_per_setting_of_the_right_kind(qtbot) -> None:
    model = _model()
    form, fields = settings_fields(model, ("tools", 0), BUILTINS["python"].settings_schema)
    qtbot.addWidget(form)
    kinds = {f.name.rsplit(".", 1)[1]: hasattr(f, "combo") for f in fields}
    assert kinds == {
        "timeout_s": False,
        "memory_mb": False,
        "max_processes": False,
        "max_output_bytes": False,
        "network": True,
        "scratch": True,
        "tmp_mb": False,
    }
    network = next(f for f in fields if f.name.endswith("network"))
    assert isinstance(network, SettingField)
    assert network.combo.itemText(0) == "default (false)"
    network.combo.setCurrentIndex(1)
    assert model.data["tools"][0]["settings"] == {"network": True}
    network.combo.setCurrentIndex(0)
    assert "settings" not in model.data["tools"][0]


def test_numbers_and_lists_are_typed(qtbot) -> None:
    model = _model()
    form, fields = settings_fields(model, ("tools", 0), BUILTINS["http.get"].settings_schema)
    qtbot.addWidget(form)
    by_name = {f.name.rsplit(".", 1)[1]: f for f in fields}
    hosts = by_name["allow_hosts"]
    qtbot.keyClicks(hosts.edit, "example.com, *.python.org")
    assert model.data["tools"][0]["settings"]["allow_hosts"] == ["example.com", "*.python.org"]
    timeout = by_name["timeout_s"]
    qtbot.keyClicks(timeout.edit, "2.5")
    assert model.data["tools"][0]["settings"]["timeout_s"] == 2.5
    qtbot.keyClicks(timeout.edit, "x")
    assert model.local_errors["tools[0].settings.timeout_s"] == "'2.5x' is not a number"
    assert model.data["tools"][0]["settings"]["timeout_s"] == 2.5
