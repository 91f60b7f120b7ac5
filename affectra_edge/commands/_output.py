"""What ``replay`` and ``demo`` print: one line per finished viewer session."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the command modules at start-up: keep NumPy out of --help
    from affectra_edge.types import SessionEvent


def format_session(doc: dict) -> str:
    top = sorted(doc["emotions"].items(), key=lambda kv: -kv[1])[:3]
    mix = ", ".join(f"{k} {v:.0%}" for k, v in top)
    return (
        f"session {doc['session_id'][:8]}  {doc['started_at']}  {doc['duration_s']:7.1f} s  "
        f"{doc['frames']:5d} frames  {doc['dominant']:8}  ({mix})"
    )


def session_printer(as_json: bool) -> Callable[[SessionEvent], None]:
    """A session listener that prints each finished session (JSON line or text) as it ends."""

    def show(ev: SessionEvent) -> None:
        if ev.kind == "end":
            doc = ev.session.to_json()
            print(json.dumps(doc) if as_json else format_session(doc), flush=True)

    return show
