"""``affectra-edge mqtt-check --config FILE``: connect to the configured broker once, report
what happened (connected, credentials refused, TLS problem, unreachable) and exit.

It uses its own client id (``<client id>-check``), publishes nothing (not even to a test
topic: a broker with strict ACLs sees only a connection and two subscriptions to the device's
own topics) and sets no last will, so it is safe to run next to the daemon: it neither kicks
the daemon's connection off nor touches its retained state. It also shows the device's
retained ``status`` and ``summary`` as the broker has them.
"""

from __future__ import annotations

import argparse

from affectra_edge.commands import add_config_argument, load

NAME = "mqtt-check"
HELP = "connect to the configured MQTT broker, report the result and exit (0 = connected)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_argument(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="give up after S seconds (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    import sys
    import threading
    import time

    from affectra_edge.publish.mqtt import (
        AUTH_REASONS,
        configure_client,
        describe_connect_error,
        describe_refusal,
        make_client,
        no_connack_message,
        read_password,
    )
    from affectra_edge.publish.payloads import Topics

    cfg = load(args)
    m = cfg.mqtt
    topics = Topics(cfg.topic_prefix, m.discovery_prefix)
    client_id = (m.client_id or f"affectra-edge-{cfg.device.id}") + "-check"
    broker = f"{'mqtts' if m.tls else 'mqtt'}://{m.host}:{m.port}"
    outcome: dict = {}
    done = threading.Event()
    socket_open = threading.Event()
    status: dict = {}
    status_done = threading.Event()
    barrier: dict = {}

    client = make_client(m, client_id)
    configure_client(client, m, password=read_password(m))
    client.reconnect_delay_set(1, 2)

    def on_connect(c, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            kind = "auth_failed" if reason_code.value in AUTH_REASONS else "error"
            outcome.update(state=kind, error=describe_refusal(reason_code))
            done.set()
            return
        outcome.update(state="connected", error=None)
        done.set()
        c.subscribe([(topics.status, 1), (topics.summary, 1)])

    def on_connect_fail(c, userdata):
        state, msg = describe_connect_error(sys.exc_info()[1])
        outcome.update(state=state, error=msg)
        done.set()

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        # The broker sends a subscription's retained messages right after its SUBACK, so the
        # SUBACK of a second subscription, asked for now, comes after them: a barrier that
        # needs no publish.
        if "mid" not in barrier:
            barrier["mid"] = c.subscribe(topics.viewers, 0)[1]
        elif mid == barrier["mid"]:
            status_done.set()

    def on_message(c, userdata, msg):
        if msg.retain and msg.topic in (topics.status, topics.summary):
            status[msg.topic] = msg.payload.decode(errors="replace")

    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_socket_open = lambda c, userdata, sock: socket_open.set()
    print(
        f"{broker}: connecting as {client_id!r} (MQTT {m.protocol}, TLS {'on' if m.tls else 'off'}, "
        f"user {m.username or '(none)'})",
        flush=True,
    )
    if not m.enabled:
        print("note: [mqtt] enabled = false, the daemon does not publish", flush=True)
    t0 = time.monotonic()
    client.connect_async(m.host, m.port, keepalive=m.keepalive_s)
    client.loop_start()
    try:
        if not done.wait(args.timeout):
            if socket_open.is_set():
                outcome.update(state="disconnected", error=no_connack_message(args.timeout))
            else:
                outcome.update(state="disconnected", error=f"no answer within {args.timeout:g} s")
        if outcome.get("state") == "connected":
            status_done.wait(max(0.5, args.timeout - (time.monotonic() - t0)))
    finally:
        client.disconnect()
        client.loop_stop()
    state = outcome.get("state")
    if state == "connected":
        print(f"{broker}: connected", flush=True)
        print(f"{topics.status}: {status.get(topics.status, '(no retained status)')}", flush=True)
        print(f"{topics.summary}: {_describe_summary(status.get(topics.summary))}", flush=True)
        return 0
    print(f"{broker}: {state}: {outcome.get('error')}", file=sys.stderr, flush=True)
    return 1


def _describe_summary(text: str | None) -> str:
    import json

    if not text:
        return "(no retained summary)"
    try:
        doc = json.loads(text)
        return f"{doc['timestamp']}, {doc['visitors_today']} visitor(s) on {doc.get('date', '?')}"
    except (ValueError, KeyError, TypeError):
        return f"(not an affectra summary: {text[:60]!r})"
