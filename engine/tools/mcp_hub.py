"""The MCP side of the catalogue: sessions to MCP servers on a background event loop.

The agent loop is synchronous, the MCP SDK is async: an `MCPHub` owns one event-loop
thread, each server lives in a task there that keeps its transport and `ClientSession`
open, and tool calls are sent to that loop and waited for with a time limit (and the
run's cancel token). Closing the hub ends every session, which stops stdio servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from typing import IO, Any

from engine.progress import CancelToken
from engine.tools.base import ToolError, ToolTimeout
from engine.tools.entries import command_line
from engine.tools.errors import MCPServerError

CONNECT_TIMEOUT_S = 30.0


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
        self.http_client: Any = None  # ours to close: the SDK leaves a given client open

    def _transport(self) -> Any:
        if self.entry.get("transport", "stdio") == "http":
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            self.http_client = httpx2.AsyncClient(
                headers=dict(self.entry.get("headers") or {}),
                timeout=httpx2.Timeout(CONNECT_TIMEOUT_S, read=300.0),
            )
            return streamable_http_client(str(self.entry["url"]), http_client=self.http_client)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        argv = command_line(self.entry)
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
            if self.http_client is not None:
                await self.http_client.aclose()

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
            where = f"command {command_line(entry)!r}" if server.errlog else f"url {entry['url']!r}"
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
