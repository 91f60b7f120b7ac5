"""Staff see whether the building system receives data: the publisher reports when the broker
last acknowledged a message (``last_sent_at``, shown on the dashboard and the Cameras page)."""

from __future__ import annotations

import time

import pytest

from affectra_edge.types import parse_iso_utc
from tests.mqtt.conftest import feed, make_session
from tests.support import wait_for

pytestmark = pytest.mark.broker


def test_last_acknowledged_message_time_is_reported(broker, store, make_publisher):
    pub = make_publisher(broker, store)
    assert pub.status()["last_sent_at"] is None  # nothing sent yet: not "just now"
    before = time.time()
    pub.start()
    feed(store, make_session(0))
    store.flush()
    wait_for(lambda: pub.status()["sent"] == 1, timeout=20)
    when = parse_iso_utc(pub.status()["last_sent_at"])
    assert before - 1 <= when <= time.time() + 1
