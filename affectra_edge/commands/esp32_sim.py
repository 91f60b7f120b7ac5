"""``affectra-edge esp32-sim``: a simulated ESP32-CAM to try ``[camera] type = "esp32"``."""

from __future__ import annotations

import argparse

NAME = "esp32-sim"
HELP = "serve a video (or the demo scene) as a simulated ESP32-CAM MJPEG stream"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "video",
        nargs="?",
        default="demo",
        metavar="VIDEO",
        help="video file or image folder to serve (default: the demo scene)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8081, help="TCP port (default 8081; 0 = any free)")
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames per second to send (default: the video's own rate; 0 = unpaced)",
    )
    body = p.add_mutually_exclusive_group()
    body.add_argument(
        "--chunked",
        dest="chunked",
        action="store_true",
        default=True,
        help="chunked transfer encoding, like the firmware's esp_http_server (default)",
    )
    body.add_argument(
        "--plain", dest="chunked", action="store_false", help="a plain body ended by closing"
    )
    p.add_argument(
        "--timestamps",
        choices=["epoch", "uptime", "none"],
        default="epoch",
        help="X-Timestamp part header: epoch (SNTP-synced firmware, default), uptime "
        "(stock firmware), none",
    )
    p.add_argument("--quality", type=int, default=85, help="JPEG quality 1-100 (default 85)")
    p.add_argument("--no-loop", dest="loop", action="store_false", help="end after the video")
    p.add_argument(
        "--legacy-order",
        action="store_true",
        help="send part headers first and the boundary after the JPEG (tutorial sketches)",
    )
    p.add_argument("--size", metavar="WxH", help="resize frames, e.g. 640x480")


def _size(text: str | None) -> tuple[int, int] | None:
    from affectra_edge.errors import UsageError

    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise UsageError(f"--size {text!r}: width and height must be 16..4096")
    return w, h


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from affectra_edge.errors import AffectraError, UsageError
    from affectra_edge.esp32_sim import Esp32Simulator, SimOptions

    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality {args.quality}: must be 1..100")
    if args.fps is not None and args.fps < 0:
        raise UsageError(f"--fps {args.fps}: must be ≥ 0")
    options = SimOptions(
        chunked=args.chunked,
        timestamps=args.timestamps,
        fps=args.fps,
        quality=args.quality,
        loop=args.loop,
        legacy_order=args.legacy_order,
        size=_size(args.size),
    )
    try:
        sim = Esp32Simulator(args.video, host=args.host, port=args.port, options=options)
        sim.start()
    except (FileNotFoundError, ValueError) as exc:
        raise AffectraError(str(exc)) from None
    except OSError as exc:
        raise AffectraError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    print(f"ESP32-CAM simulator: {sim.stream_url}  (status: {sim.base_url}/status)", flush=True)
    print(f'try it: [camera] type = "esp32"  url = "{sim.stream_url}"', flush=True)
    done = threading.Event()
    # systemd and `kill` send SIGTERM: stop as cleanly as on Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
