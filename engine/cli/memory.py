"""`python main.py memory ...`: an agent's memory store from the terminal.

`--json` prints one JSON object on stdout; progress and notices go to stderr.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.cli.output import emit_json, err, json_object, out
from engine.memory.items import StoreNotice
from engine.progress import TerminalProgress


def _notice(event: StoreNotice) -> None:
    err(f"[memory] {event.store}: {event.message}")


# --------------------------------------------------------------------------- memory
def _open(args: argparse.Namespace) -> Any:
    from engine.memory.store import MemoryStore

    bar = TerminalProgress()
    return MemoryStore.open(agent=args.agent, on_notice=_notice, progress=bar)


def cmd_add(args: argparse.Namespace) -> int:
    metadata = json_object(args.metadata, "--metadata") if args.metadata else None
    with _open(args) as store:
        ids = store.add(args.text, kind=args.kind, metadata=metadata, pinned=args.pin)
    if args.json:
        emit_json({"ids": ids, "kind": args.kind})
    else:
        err(f"added {len(ids)} item(s): {', '.join(map(str, ids))}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    with _open(args) as store:
        hits = store.search(args.query, k=args.k, kinds=args.kind or None)
    rows = [h.to_dict() for h in hits]
    if args.json:
        emit_json({"hits": rows})
    else:
        for row in rows:
            text = row["text"].replace("\n", " ")
            out(f"{row['score']:.3f}  #{row['id']:<6} [{row['kind']}] {text[:100]}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from engine.memory.filters import Filter

    with _open(args) as store:
        items = store.items(Filter(kinds=args.kind or None), limit=args.limit, offset=args.offset)
    if args.json:
        emit_json({"items": [i.to_dict() for i in items]})
    else:
        for item in items:
            pin = "*" if item.pinned else " "
            out(f"#{item.id:<6}{pin}[{item.kind}] {item.text[:100]!s}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from engine.memory.filters import Filter

    with _open(args) as store:
        if args.all:
            removed = store.delete_where(Filter(kinds=args.kind or None))
        else:
            removed = store.delete(args.id)
    if args.json:
        emit_json({"deleted": removed})
    else:
        err(f"deleted {removed} item(s)")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from engine.memory.ingest import ingest

    with _open(args) as store, TerminalProgress() as bar:
        result = ingest(store, args.paths, progress=bar, max_tokens=args.chunk_tokens)
    if args.json:
        emit_json(result.to_dict())
    else:
        d = result.to_dict()
        err(
            f"ingested {d['files']} file(s), {d['chunks']} chunks in {d['seconds']} s "
            f"({d['chunks_per_s']} chunks/s); {d['skipped']} unchanged"
        )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as store:
        data = store.stats()
    if args.json:
        emit_json(data)
    else:
        out(json.dumps(data, indent=2))
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.rebuild(reembed=args.reembed)
        data = store.stats()
    if args.json:
        emit_json({"rebuilt": True, "index": data["index"], "items": data["items"]})
    else:
        err(
            f"rebuilt the index of {data['store']}: {data['items']} items ({data['index']['kind']})"
        )
    return 0


def register(sub: Any) -> None:
    from engine.memory.schema import KINDS

    memory = sub.add_parser("memory", help="an agent's memory store").add_subparsers(
        dest="memory_command", required=True
    )

    def command(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        p = memory.add_parser(name, help=help_text)
        p.add_argument("--agent", required=True, help="agent name (one store per agent)")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
        return p

    add = command("add", "add items (one per --text)", cmd_add)
    add.add_argument("--text", action="append", required=True)
    add.add_argument("--kind", default="long", choices=KINDS)
    add.add_argument("--metadata", help="JSON object stored with each item")
    add.add_argument("--pin", action="store_true")
    search = command("search", "top-k items for a query", cmd_search)
    search.add_argument("--query", required=True)
    search.add_argument("--k", type=int, default=5)
    search.add_argument("--kind", action="append", choices=KINDS)
    lst = command("list", "items, newest first", cmd_list)
    lst.add_argument("--kind", action="append", choices=KINDS)
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--offset", type=int, default=0)
    delete = command("delete", "delete items by id, or all", cmd_delete)
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append")
    which.add_argument("--all", action="store_true")
    delete.add_argument("--kind", action="append", choices=KINDS, help="with --all: only these")
    ingest = command("ingest", "ingest files/folders as document chunks", cmd_ingest)
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--chunk-tokens", type=int)
    command("stats", "counts, index, sizes", cmd_stats)
    rebuild = command("rebuild", "rebuild the index from SQLite", cmd_rebuild)
    rebuild.add_argument("--reembed", action="store_true", help="re-embed every text first")
