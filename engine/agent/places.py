"""Where an agent file's paths lead, and the places they may never lead.

`resolve(folder, text)` is the one reading of a path the file writes (`workspace`,
`memory.documents`): relative to the agent file's folder, `~` is the user's home, and
symlinks are followed, so a check sees the folder a tool or the ingestion really uses.

`forbidden_workspace` and `forbidden_document` say why a path can never be right, even in
a trusted file: the data home (its models, memory stores and transcripts) or anything in
it other than the agent's own folder, and system folders (`/`, `/etc`, `/usr`, the home
folder itself, `C:\\Windows` ...) as a workspace; the data home and the kernel's virtual
folders (`/proc`, `/sys`, `/dev`) as a document to ingest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine import paths


def resolve(folder: Path, text: str) -> Path:
    """The real location of `text` (a path in the agent file) for the file in `folder`."""
    return (folder / Path(text).expanduser()).resolve()


def is_within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or inside it (both already resolved)."""
    return _key(path) == _key(folder) or _key(path).startswith(_key(folder).rstrip(os.sep) + os.sep)


def _key(path: Path) -> str:
    return os.path.normcase(str(path))


def _both(raw: str) -> list[Path]:
    """A system folder as written and as resolved (`/bin` may be a link to `/usr/bin`)."""
    path = Path(raw)
    try:
        return [path, path.resolve()]
    except OSError:
        return [path]


def _system_folders() -> tuple[list[Path], list[Path]]:
    """(folders refused as themselves, folders refused with everything inside them)."""
    home = Path.home()
    if sys.platform == "win32":
        root = Path(os.environ.get("SYSTEMDRIVE", "C:") + "\\")
        exact = [root, root / "Users", home]
        names = ("SYSTEMROOT", "PROGRAMFILES", "PROGRAMFILES(X86)", "PROGRAMDATA")
        tree = [root / "Windows", *(Path(os.environ[n]) for n in names if n in os.environ)]
        return exact, tree
    exact_names = ["/", "/var", "/root", "/home", "/Users", "/tmp", "/opt", "/srv", "/mnt"]
    exact_names += ["/media", "/private", "/private/var", "/private/tmp", "/Volumes"]
    tree_names = ["/etc", "/proc", "/sys", "/dev", "/boot", "/bin", "/sbin", "/lib", "/lib32"]
    tree_names += ["/lib64", "/libx32", "/usr", "/run", "/private/etc", "/System", "/Library"]
    exact = [p for name in exact_names for p in _both(name)] + [home, home.resolve()]
    tree = [p for name in tree_names for p in _both(name)]
    return exact, tree


def _data_home_problem(path: Path, agent_folder: Path) -> str | None:
    """Why `path` may not be in the data home: only the agent's own folder there (a file in
    the data home's agents/ folder) is the agent's to use."""
    home = paths.data_home().resolve()
    if is_within(home, path):
        return (
            f"is the data home ({home}) or holds it; it keeps every agent's models, memory "
            "and transcripts"
        )
    if not is_within(path, home):
        return None
    own = is_within(agent_folder, (home / "agents").resolve()) and is_within(path, agent_folder)
    if own:
        return None
    return (
        f"is inside the data home ({home}), outside the agent's own folder; it keeps every "
        "agent's models, memory and transcripts"
    )


def forbidden_workspace(path: Path, agent_folder: Path) -> str | None:
    """Why the resolved `path` can never be an agent's workspace (None: it may be)."""
    exact, tree = _system_folders()
    if any(_key(path) == _key(p) for p in exact):
        return "is a system folder or the home folder itself; give the agent a folder of its own"
    if any(is_within(path, p) for p in tree):
        return "is inside a system folder; give the agent a folder of its own"
    return _data_home_problem(path, agent_folder)


def forbidden_document(path: Path, agent_folder: Path) -> str | None:
    """Why the resolved `path` can never be a memory document (None: it may be)."""
    if sys.platform != "win32":
        for name in ("/proc", "/sys", "/dev"):
            if any(is_within(path, p) for p in _both(name)):
                return f"is inside {name}, the kernel's virtual files, not documents"
    return _data_home_problem(path, agent_folder)
