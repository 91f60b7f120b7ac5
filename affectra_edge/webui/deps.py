"""Exactly what the web UI needs from the rest of the appliance, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

import numpy as np

from affectra_edge.config import CameraConfig
from affectra_edge.figures import LiveFigures
from affectra_edge.live import LatestSlot
from affectra_edge.metrics import Registry
from affectra_edge.publish.fleet import FleetDevice
from affectra_edge.settings import RuntimeSettings
from affectra_edge.types import FaceObservation

if TYPE_CHECKING:
    from affectra_edge.store.writer import Backlog

#: how the dashboard chart and ``/api/stats`` group sessions
Bucket = Literal["hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day")


class SessionReads(Protocol):
    """The store's methods the web calls (reads, the CSV export, deleting everything)."""

    def count_sessions(self) -> int: ...
    def recent_sessions(self, limit: int = 50, offset: int = 0) -> list[dict]: ...
    def summary(self, start: float, end: float) -> dict[str, Any]: ...
    def buckets(
        self,
        start: float,
        end: float,
        bucket: Bucket,
        tz_offset_s: int = 0,
        *,
        medians: bool = False,
    ) -> list[dict]: ...
    def export_measures_csv(
        self,
        fp: TextIO,
        start: float,
        end: float,
        bucket: Bucket,
        tz_offset_s: int,
        expected_dwell_s: float,
    ) -> int: ...
    def dwell_histogram(self, start: float, end: float) -> list[dict[str, Any]]: ...
    def export_csv(
        self, fp: TextIO, start: float | None = None, end: float | None = None
    ) -> int: ...
    def clear_all(self) -> int: ...
    def write_backlog(self) -> Backlog | None: ...


class CameraControl(Protocol):
    """The capture runner as the camera page sees it."""

    camera: CameraConfig

    def status(self) -> dict: ...
    def switch(self, camera: CameraConfig) -> None: ...


class FleetReads(Protocol):
    """The fleet watcher as the museum view sees it (``publish/fleet.py``)."""

    def status(self) -> dict[str, Any]: ...
    def devices(self, sort: str = "room", descending: bool = False) -> list[FleetDevice]: ...


@dataclass(frozen=True)
class WebDeps:
    #: live figures, progress and health, and the short cache every display read goes through
    figures: LiveFigures
    #: run-time settings (the settings page, live-view privacy) and the device's name
    settings: RuntimeSettings
    #: None when storage is disabled
    store: SessionReads | None
    camera: CameraControl
    #: the newest annotated frame, for the live view
    live: LatestSlot
    #: the metrics (``/metrics`` renders them; the web app times its requests into them)
    registry: Registry
    #: faces and emotions in an uploaded picture
    analyze: Callable[[np.ndarray], list[FaceObservation]]
    #: every box under the shared MQTT topic root; None when MQTT is off
    fleet: FleetReads | None = None
    #: this box's MQTT topic prefix, to mark its own row in the fleet
    topic_prefix: str = ""
