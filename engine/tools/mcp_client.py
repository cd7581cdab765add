"""MCP servers as tool sources: their tools join the catalogue as `<server>.<tool>`.

The agent loop is synchronous, the MCP SDK is async: an `MCPHub` owns one event-loop
thread, each server lives in a task there that keeps its transport and `ClientSession`
open, and tool calls are sent to that loop and waited for with a time limit. Closing the
hub ends every session, which stops the stdio server processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import IO, Any

from engine.progress import CancelToken
from engine.tools.base import Tool, ToolContext, ToolError, ToolRegistry, ToolTimeout
from engine.tools.command import CONTEXT
from engine.tools.errors import MCPServerError, ToolSettingsError

CONNECT_TIMEOUT_S = 30.0
DEFAULT_TIMEOUT_S = 30.0
FIELDS = {
    "stdio": ("name", "transport", "command", "env", "cwd", "approval", "timeout_s"),
    "http": ("name", "transport", "url", "headers", "approval", "timeout_s"),
}


def _message(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Server:
    """One connected server: its session lives in a task on the hub's loop."""

    def __init__(self, name: str, entry: Mapping[str, Any]) -> None:
        self.name, self.entry = name, entry
        self.session: Any = None
        self.tools: list[Any] = []
        self.stop = asyncio.Event()
        self.errlog: IO[str] | None = None

    def _transport(self) -> Any:
        if self.entry.get("transport", "stdio") == "http":
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            client = httpx2.AsyncClient(
                headers=dict(self.entry.get("headers") or {}),
                timeout=httpx2.Timeout(CONNECT_TIMEOUT_S, read=300.0),
            )
            return streamable_http_client(str(self.entry["url"]), http_client=client)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        argv = command_of(self.entry)
        params = StdioServerParameters(
            command=argv[0], args=argv[1:], env=self.entry.get("env"), cwd=self.entry.get("cwd")
        )
        self.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        return stdio_client(params, errlog=self.errlog)

    async def run(self, ready: asyncio.Future[None]) -> None:
        from mcp import ClientSession

        try:
            async with self._transport() as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                cursor = None
                while True:
                    from mcp.types import PaginatedRequestParams

                    params = PaginatedRequestParams(cursor=cursor) if cursor else None
                    listed = await session.list_tools(params=params)
                    self.tools += listed.tools
                    cursor = listed.next_cursor
                    if not cursor:
                        break
                self.session = session
                ready.set_result(None)
                await self.stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the thread that waits
            if not ready.done():
                ready.set_exception(exc)
        finally:
            self.session = None

    def stderr_tail(self) -> str:
        if self.errlog is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self.errlog.seek(0)
            return self.errlog.read()[-1500:].strip()
        return ""


class MCPHub:
    """The event-loop thread and the MCP sessions of one tool registry."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aw-mcp", daemon=True)
        self.thread.start()
        self.servers: dict[str, _Server] = {}
        self._runs: list[tuple[_Server, asyncio.Future[None]]] = []

    def connect(self, name: str, entry: Mapping[str, Any], label: str) -> _Server:
        server = _Server(name, entry)

        async def start() -> None:
            ready: asyncio.Future[None] = self.loop.create_future()
            self._runs.append((server, asyncio.ensure_future(server.run(ready))))
            await ready

        future = asyncio.run_coroutine_threadsafe(start(), self.loop)
        try:
            future.result(CONNECT_TIMEOUT_S)
        except FutureTimeout as exc:
            future.cancel()
            raise MCPServerError(
                f"{label}: the server did not answer within {CONNECT_TIMEOUT_S:g} s"
            ) from exc
        except (Exception, asyncio.CancelledError, BaseExceptionGroup) as exc:
            tail = server.stderr_tail()
            where = f"command {command_of(entry)!r}" if server.errlog else f"url {entry['url']!r}"
            raise MCPServerError(
                f"{label}: could not start or reach the server ({where}): {_message(exc)}"
                + (f"\nits error output:\n{tail}" if tail else "")
            ) from exc
        self.servers[name] = server
        return server

    def call(
        self,
        server: _Server,
        tool: str,
        arguments: dict[str, Any],
        timeout: float,
        cancel: CancelToken | None = None,
    ) -> Any:
        if server.session is None:
            raise ToolError(f"the MCP server {server.name!r} is not connected any more")
        coro = server.session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        deadline = time.monotonic() + timeout + 2.0
        try:
            while True:
                if cancel is not None and cancel.cancelled:
                    future.cancel()
                    raise ToolError("cancelled")
                try:
                    return future.result(min(0.1, max(deadline - time.monotonic(), 0)))
                except FutureTimeout:
                    if time.monotonic() >= deadline:
                        raise
        except (FutureTimeout, TimeoutError) as exc:
            future.cancel()
            raise ToolTimeout(f"the MCP tool did not answer within {timeout:g} s") from exc
        except ToolError:
            raise
        except Exception as exc:
            from mcp.types import REQUEST_TIMEOUT

            if getattr(exc, "code", None) == REQUEST_TIMEOUT:
                raise ToolTimeout(f"the MCP tool did not answer within {timeout:g} s") from exc
            raise ToolError(f"the MCP server {server.name!r} failed: {_message(exc)}") from exc

    def close(self) -> None:
        if not self.thread.is_alive():
            return

        async def stop_all() -> None:
            for server, task in self._runs:
                server.stop.set()
                if server.session is None:
                    task.cancel()  # it never connected: nothing to close gently
            tasks = [task for _, task in self._runs]
            if tasks:
                await asyncio.wait(tasks, timeout=10.0)
            for task in tasks:
                task.cancel()

        with contextlib.suppress(FutureTimeout, RuntimeError):
            asyncio.run_coroutine_threadsafe(stop_all(), self.loop).result(15.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5.0)
        if not self.thread.is_alive():
            self.loop.close()
        for server, _ in self._runs:
            if server.errlog is not None:
                server.errlog.close()


def command_of(entry: Mapping[str, Any]) -> list[str]:
    command = entry.get("command")
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command or []]


def result_of(result: Any, output_schema: Mapping[str, Any] | None = None) -> Any:
    """A `CallToolResult` as the registry returns it: structured data or text.

    SDK servers wrap a plain return value as `{"result": value}`; it is unwrapped.
    """
    texts = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        else:
            texts.append(f"[{kind} content: {getattr(block, 'mime_type', '') or 'not shown'}]")
    text = "\n".join(texts)
    if result.is_error:
        raise ToolError(text or "the MCP tool reported an error")
    data = result.structured_content
    if data is None:
        return text or "(no output)"
    wrapped = (output_schema or {}).get("required") == ["result"]
    if wrapped and isinstance(data, dict) and list(data) == ["result"]:
        data = data["result"]
    return data


def _check(entry: Mapping[str, Any], label: str) -> str:
    transport = entry.get("transport", "stdio")
    if transport not in FIELDS:
        raise ToolSettingsError(f"{label}: field 'transport' is {transport!r}; use stdio or http")
    unknown = sorted(set(entry) - set(FIELDS[transport]))
    if unknown:
        allowed = ", ".join(FIELDS[transport])
        raise ToolSettingsError(f"{label}: unknown field {unknown[0]!r}; {transport} has {allowed}")
    name = str(entry["name"])
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ToolSettingsError(
            f"{label}: field 'name' may hold only letters, digits, '-' and '_' "
            "(its tools are named <name>.<tool>)"
        )
    if transport == "stdio":
        command = entry.get("command")
        good = isinstance(command, str) or (
            isinstance(command, list) and all(isinstance(a, str) for a in command)
        )
        if not good or not command_of(entry):
            raise ToolSettingsError(f"{label}: field 'command' must be a command line or a list")
        for field in ("env", "headers"):
            _check_strings(entry, field, label)
    else:
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ToolSettingsError(f"{label}: field 'url' must be an http:// or https:// address")
        _check_strings(entry, "headers", label)
    timeout = entry.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolSettingsError(f"{label}: field 'timeout_s' must be a positive number of seconds")
    return transport


def _check_strings(entry: Mapping[str, Any], field: str, label: str) -> None:
    value = entry.get(field)
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ToolSettingsError(f"{label}: field {field!r} must map names to text values")


def _tool(hub: MCPHub, server: _Server, spec: Any, approval: Any, timeout: float) -> Tool:
    remote = str(spec.name)
    output_schema = spec.output_schema

    def run(**arguments: Any) -> Any:
        context: ToolContext = arguments.pop(CONTEXT)
        answer = hub.call(server, remote, arguments, timeout, context.cancel)
        return result_of(answer, output_schema)

    schema = dict(spec.input_schema or {"type": "object"})
    schema.setdefault("type", "object")
    return Tool(
        name=f"{server.name}.{remote}",
        description=spec.description or f"{remote} (from the MCP server {server.name})",
        parameters=schema,
        function=run,
        approval=approval,
        timeout_s=timeout + 5.0,
        takes_context=True,
        source=f"mcp:{server.name}",
        context_argument=CONTEXT,
    )


def attach_servers(
    registry: ToolRegistry, servers: Sequence[Mapping[str, Any]], workspace: Path
) -> None:
    """Connect to each server and add its tools; the registry's close() ends them all."""
    from engine.tools.catalog import approval_of, where

    checked = []
    for index, entry in enumerate(servers):
        label = where(entry, index, "mcp_servers")
        _check(entry, label)
        checked.append((label, entry, approval_of(entry, "ask", label)))
    hub = MCPHub()
    registry.on_close(hub.close)
    for label, entry, approval in checked:
        name = str(entry["name"])
        if entry.get("transport", "stdio") == "stdio":
            cwd = workspace / entry["cwd"] if entry.get("cwd") else workspace
            entry = {**entry, "cwd": str(cwd)}
        server = hub.connect(name, entry, label)
        timeout = float(entry.get("timeout_s", DEFAULT_TIMEOUT_S))
        for spec in server.tools:
            tool = _tool(hub, server, spec, approval, timeout)
            if tool.name in registry:
                raise MCPServerError(f"{label}: a tool named {tool.name!r} is already listed")
            try:
                registry.add(tool)
            except Exception as exc:
                raise MCPServerError(f"{label}: its tool {spec.name!r} is unusable: {exc}") from exc
