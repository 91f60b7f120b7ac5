"""What ``replay`` and ``demo`` print: one line per finished viewer session."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the command modules at start-up: keep NumPy out of --help
    from affectra_edge.types import SessionEvent, ViewerSession


def format_session(session: ViewerSession) -> str:
    """One finished session as text, labelled like the dashboard's "Recent visitors" table:
    when it ended (the device's local time), the dwell, the dominant emotion and the mix."""
    top = sorted(session.emotions.as_dict().items(), key=lambda kv: -kv[1])[:3]
    mix = ", ".join(f"{k} {v:.0%}" for k, v in top)
    ended = time.strftime("%H:%M:%S", time.localtime(session.ended_at))
    return (
        f"session {session.session_id[:8]}  ended {ended}  dwell {session.duration_s:5.1f} s  "
        f"frames {session.frames:5d}  emotion {session.dominant:8}  mix {mix}"
    )


def session_printer(as_json: bool) -> Callable[[SessionEvent], None]:
    """A session listener that prints each finished session (JSON line or text) as it ends.

    The JSON line is the session's public document (``replay --json``), byte for byte."""

    def show(ev: SessionEvent) -> None:
        if ev.kind == "end":
            text = json.dumps(ev.session.to_json()) if as_json else format_session(ev.session)
            print(text, flush=True)

    return show
