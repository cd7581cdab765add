"""`tools list` and `tools call`: the built-in tools from the terminal, without an agent."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli.output import CommandInputError, emit_json, err, json_object, out
from engine.tools.base import ToolContext
from engine.tools.catalog import BUILTINS, build_registry
from engine.tools.sandbox import probe


def _isolation() -> dict[str, Any]:
    """What the python tool's sandbox really gets on this machine (it runs once to see)."""
    isolation, text = probe()
    return {
        "namespaces": bool(isolation and isolation.namespaces),
        "network_can_be_cut": isolation is not None and isolation.network_cut,
        "summary": text,
    }


def cmd_list(args: argparse.Namespace) -> int:
    sandbox = _isolation()
    if args.json:
        infos = [spec.info() for spec in BUILTINS.values()]
        for info in infos:
            if info.get("name") == "python":
                info["isolation"] = sandbox
        emit_json({"builtins": infos})
        return 0
    for spec in BUILTINS.values():
        settings = ", ".join(spec.settings_schema.get("properties", {})) or "no settings"
        err(f"{spec.name:<13} {spec.approval:<5} {spec.description} ({settings})")
        if spec.name == "python":
            err(f"{'':<19} sandbox here: {sandbox['summary']}")
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    arguments = json_object(args.args, "--args")
    entry = {
        "name": args.name,
        "approval": "auto",
        "settings": json_object(args.settings, "--settings"),
    }
    workspace = Path(args.workspace).resolve()
    if not workspace.is_dir():
        raise CommandInputError(f"--workspace {args.workspace}: no such folder")
    with build_registry([entry], workspace=workspace) as registry:
        result = registry.call(args.name, arguments, context=ToolContext(workspace=workspace))
    if args.json:
        emit_json({**result.to_json(), "data": result.data})
    else:
        (out if result.ok else err)(result.output)
    return 0 if result.ok else 1


def register(sub: Any) -> None:
    """Add `tools list` and `tools call` to the main parser's sub-commands."""
    tools = sub.add_parser("tools", help="the built-in agent tools").add_subparsers(
        dest="tools_command", required=True
    )
    listing = tools.add_parser("list", help="built-in tools, default approval and settings")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    call = tools.add_parser("call", help="call one built-in tool directly (no approval asked)")
    call.add_argument("name", help="built-in tool name, e.g. calculator")
    call.add_argument("--args", default="{}", help="the arguments as a JSON object")
    call.add_argument("--settings", default="{}", help="the tool's settings as a JSON object")
    call.add_argument("--workspace", default=".", help="folder the tool works in (default: .)")
    call.add_argument("--json", action="store_true")
    call.set_defaults(func=cmd_call)
