"""``affectra-edge replay PATH``: a video file or image folder through the pipeline, as fast
as possible; one line per finished session and a summary line last."""

from __future__ import annotations

import argparse
import json
import sys
import time

from affectra_edge.commands import add_config_argument, load
from affectra_edge.commands._output import session_printer

NAME = "replay"
HELP = "process a video file or image folder and print the viewer sessions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="video file or folder of images")
    add_config_argument(p)
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument(
        "--mqtt-drain-s",
        type=float,
        default=15.0,
        metavar="S",
        help="with [mqtt] enabled: wait up to S seconds for queued messages before exiting",
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from affectra_edge.app import Appliance
    from affectra_edge.ports import SourceError
    from affectra_edge.sources.common import SourceCounters
    from affectra_edge.sources.file import FileSource

    cfg = load(args)
    camera = replace(cfg.camera, type="file", path=args.path, realtime=False, loop=False)
    cfg = replace(cfg, camera=camera)
    source = FileSource(camera, SourceCounters())
    source.open()  # a missing path fails here, before any model is loaded
    app = Appliance.from_config(cfg, with_store="storage" in cfg.present, with_web=False)

    app.add_session_listener(session_printer(args.json))
    if app.publisher is not None:
        app.publisher.start()  # no capture thread here: frames are read on this thread
    frames = faces = 0
    t0 = time.perf_counter()
    try:
        while True:
            td = time.perf_counter()
            try:
                frame = source.read()
            except SourceError as exc:
                print(f"affectra-edge: error: {exc}", file=sys.stderr)
                break
            if frame is None:
                break
            result = app.process_frame(frame, (time.perf_counter() - td) * 1000.0)
            frames += 1
            faces += sum(1 for f in result.faces if f.visible)
    finally:
        source.close()
        seconds = time.perf_counter() - t0
        # Viewers still in view at the end of the file end at their last sighting.
        app.stop(drain_outbox_s=args.mqtt_drain_s)
    sessions = int(app.figures.stats()["sessions"])
    summary = {
        "type": "summary",
        "frames": frames,
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 2) if seconds > 0 else 0.0,
        "faces": faces,
        "sessions": sessions,
        # faces seen for less than min_dwell_s, each once (attraction power: docs/measures.md)
        "passers_by": app.pipeline.sessions.passers_by_total,
        "corrupt": source.counters.corrupt,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{frames} frames in {seconds:.2f} s ({summary['fps']} fps), {faces} face detections, "
            f"{sessions} sessions, {summary['passers_by']} passers-by"
        )
    return 0
