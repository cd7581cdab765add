"""How an agent's `name` becomes a folder or file name (its memory store, its transcripts).

The agent file's schema refuses names with control characters, invisible direction
marks, path separators or leading/trailing white space; what is left may still hold
spaces, capitals, punctuation or other scripts, so every place that names something after
the agent uses `folder_name`: lower case, runs of other characters than `a-z 0-9 _ . -`
turned into one `-`, no `-`, `.` or `_` at either end (so never `.` or `..`), at most 64
characters, `agent` when nothing is left. The result is what `engine.memory.core`'s
`store_folder` accepts.
"""

from __future__ import annotations

import re

_OTHER = re.compile(r"[^a-z0-9_.-]+")
_ENDS = "-._"


def folder_name(name: str, limit: int = 64) -> str:
    """`Notes keeper` -> `notes-keeper`; `../x\\n` -> `x`; `日本` -> `agent`."""
    slug = _OTHER.sub("-", name.lower()).strip(_ENDS)[:limit].strip(_ENDS)
    return slug or "agent"
