"""The fleet book: retained status/summary messages in, comparable rows out (pure, no broker)."""

from __future__ import annotations

import json

import pytest

from affectra_edge.publish.fleet import MAX_DEVICES, FleetBook, fleet_root
from affectra_edge.publish.payloads import summary_payload


def _summary(device_id: str, visitors: int, dwell: float, **extra) -> bytes:
    doc = summary_payload(
        {
            "visitors_today": visitors,
            "avg_dwell_s": dwell,
            "emotions": {"happy": 1.0},
            "dominant": "happy",
            **extra,
        },
        device_id,
        ts=1_764_500_000.0,
    )
    return json.dumps(doc).encode()


def test_root_is_the_parent_of_the_prefix():
    assert fleet_root("affectra/gallery-7") == "affectra"
    assert fleet_root("museum/floor2/gallery-7/") == "museum/floor2"
    assert fleet_root("gallery-7") is None


def test_status_and_summary_make_one_row_per_device():
    book = FleetBook("affectra")
    assert book.ingest("affectra/g1/status", b"online")
    assert book.ingest(
        "affectra/g1/summary",
        _summary(
            "g1",
            42,
            7.5,
            room="East",
            artwork="Sky",
            attraction_power=0.6,
            holding_power=0.25,
            valence=0.81,
            arousal=0.51,
        ),
    )
    assert book.ingest("affectra/g2/summary", _summary("g2", 3, 20.0))
    assert book.ingest("affectra/g2/status", b"offline")
    rows = {d.device_id: d for d in book.devices()}
    assert set(rows) == {"g1", "g2"}
    g1, g2 = rows["g1"], rows["g2"]
    assert (g1.online, g1.visitors_today, g1.avg_dwell_s, g1.dominant) == (True, 42, 7.5, "happy")
    assert (g1.room, g1.artwork) == ("East", "Sky")
    # the visitor-study measures travel too, so artworks can be compared on them
    assert (g1.attraction_power, g1.holding_power, g1.valence, g1.arousal) == (
        0.6,
        0.25,
        0.81,
        0.51,
    )
    assert g2.attraction_power is None  # not computable yet on that device
    assert g1.last_seen == pytest.approx(1_764_500_000.0)
    assert g2.online is False and g2.visitors_today == 3


def test_foreign_and_malformed_messages_are_ignored():
    book = FleetBook("affectra")
    assert not book.ingest("other/g1/status", b"online")
    assert not book.ingest("affectra/g1/session", b"{}")
    assert not book.ingest("affectra/a/b/summary", _summary("x", 1, 1.0))
    assert not book.ingest("affectra/g1/status", b"maybe")
    assert not book.ingest("affectra/g1/summary", b"{not json")
    assert not book.ingest("affectra/g1/summary", b'{"type": "session"}')
    assert not book.ingest("affectra/g1/summary", b"x" * 20000)
    assert len(book) == 0 and book.ignored == 7
    # a summary with wrong types keeps the row but no nonsense figures
    assert book.ingest(
        "affectra/g1/summary",
        json.dumps({"type": "summary", "visitors_today": "many", "avg_dwell_s": None}).encode(),
    )
    (g1,) = book.devices()
    assert g1.visitors_today is None and g1.avg_dwell_s is None


def test_sorting_compares_artworks_and_blanks_sort_last():
    book = FleetBook("affectra")
    for name, visitors in (("a", 5), ("b", 50), ("c", 20)):
        book.ingest(f"affectra/{name}/summary", _summary(name, visitors, 1.0))
    book.ingest("affectra/d/status", b"online")  # no summary yet
    assert [d.device_id for d in book.devices("visitors_today", descending=True)] == [
        "b",
        "c",
        "a",
        "d",
    ]
    assert [d.device_id for d in book.devices("visitors_today")] == ["a", "c", "b", "d"]
    with pytest.raises(ValueError, match="sort must be one of"):
        book.devices("password")


def test_cleared_retained_messages_retire_a_device():
    book = FleetBook("affectra")
    book.ingest("affectra/g1/status", b"online")
    book.ingest("affectra/g1/summary", _summary("g1", 1, 1.0))
    book.ingest("affectra/g1/summary", b"")
    assert len(book) == 1 and book.devices()[0].visitors_today is None
    book.ingest("affectra/g1/status", b"")
    assert len(book) == 0


def test_stale_summary_from_an_earlier_day_is_flagged():
    book = FleetBook("affectra")
    book.ingest("affectra/g1/summary", _summary("g1", 9, 1.0, date="2026-11-29"))
    (g1,) = book.devices()
    assert g1.as_json(today="2026-11-30")["stale"] is True
    assert g1.as_json(today="2026-11-29")["stale"] is False


def test_the_book_is_bounded():
    book = FleetBook("affectra")
    for i in range(MAX_DEVICES + 5):
        book.ingest(f"affectra/d{i}/status", b"online")
    assert len(book) == MAX_DEVICES and book.ignored == 5
