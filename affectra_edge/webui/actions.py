"""What a state-changing request does, shared by the HTML forms and the JSON API: read the
request, change settings, switch the camera, delete the data, analyze an upload."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import bottle

from affectra_edge.analysis import faces_json
from affectra_edge.config import CameraConfig, ConfigError, build_section, field_spec
from affectra_edge.settings import FIELDS, SettingError, spec
from affectra_edge.webui.deps import SessionReads, WebDeps
from affectra_edge.webui.images import Busy, Decoded, DecodeSlots, decode
from affectra_edge.webui.policy import SMALL_BODY
from affectra_edge.webui.validate import (
    InvalidInput,
    as_choice,
    as_field,
    as_text,
    camera_url,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONFIRM_WORD = "DELETE"


@dataclass(frozen=True)
class Uploads:
    """The ``[web] max_upload_mb`` limit, for the routes that take a picture, and the slots
    that bound how many of them are decoded at once (one set per app)."""

    max_mb: float
    slots: DecodeSlots = field(default_factory=DecodeSlots, compare=False)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    @property
    def route_body(self) -> int:
        """``max_body=`` of such a route: the picture plus the form around it."""
        return self.max_bytes + SMALL_BODY


CAMERA_TYPES: tuple[str, ...] = field_spec("camera", "type").choices


# ---- reading requests ------------------------------------------------------------------------
def payload() -> dict[str, Any]:
    """The request's fields: a JSON object or a form, as a plain dict."""
    req = bottle.request
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = req.body.read(SMALL_BODY + 1)
        try:
            doc = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise bottle.HTTPError(400, "Body is not valid JSON") from None
        except RecursionError:  # "[[[[…": deeper than the parser's recursion limit
            raise bottle.HTTPError(400, "Body is not valid JSON: nested too deeply") from None
        if not isinstance(doc, dict):
            raise bottle.HTTPError(400, "Body must be a JSON object")
        return doc
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        return {k: req.forms.getunicode(k, default="") for k in req.forms}
    raise bottle.HTTPError(415, "Send JSON or a form")


def checked(fn: Callable[[], T]) -> T:
    """Run a parser or an action; an :class:`InvalidInput` becomes a 400 naming the field."""
    try:
        return fn()
    except InvalidInput as exc:
        raise bottle.HTTPError(400, str(exc)) from None


def need_store(store: SessionReads | None) -> SessionReads:
    if store is None:
        raise bottle.HTTPError(503, "Storage is disabled on this device")
    return store


# ---- actions ---------------------------------------------------------------------------------
def save_settings(deps: WebDeps, data: dict[str, Any]) -> None:
    """Change the settings given (and only those); every value is checked first."""
    unknown = sorted(set(data) - set(FIELDS) - {"csrf_token"})
    if unknown:
        raise InvalidInput(unknown[0], "is not a setting")
    clean = {key: as_field(data[key], key, spec(key)) for key in FIELDS if key in data}
    try:
        deps.settings.update(clean)
    except SettingError as exc:
        raise InvalidInput(exc.key, exc.problem) from None


def switch_camera(deps: WebDeps, data: dict[str, Any]) -> None:
    allowed = {"type", "path", "device", "url", "csrf_token"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(unknown[0], "is not a camera setting")
    ctype = as_choice(data.get("type"), "type", CAMERA_TYPES)
    fields = {**asdict(deps.camera.camera), "type": ctype}
    if ctype == "esp32":
        fields["url"] = camera_url(data.get("url"))
    elif ctype == "file":
        path = as_text(data.get("path", ""), "path", 1024, min_len=1)
        if not Path(path).exists():
            raise InvalidInput("path", f"{path} does not exist on the device")
        fields["path"] = path
    elif ctype == "usb":
        dev = as_text(data.get("device", "0"), "device", 64, min_len=1)
        if not (dev.isdigit() and int(dev) < 64) and not (
            dev.startswith("/dev/video") and dev[10:].isdigit()
        ):
            raise InvalidInput("device", "must be /dev/videoN or a camera index")
        fields["device"] = dev
    try:
        cam = build_section(CameraConfig, fields, "camera")
    except ConfigError as exc:
        raise InvalidInput(exc.key or "camera", exc.problem) from None
    deps.camera.switch(cam)
    deps.figures.invalidate()


def clear_data(deps: WebDeps, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("confirm") != CONFIRM_WORD:
        raise InvalidInput("confirm", f"type {CONFIRM_WORD} to confirm deleting all data")
    store = need_store(deps.store)
    before = int(store.count_sessions())
    store.clear_all()
    deps.figures.invalidate()
    logger.warning("all visitor data cleared from the web UI (%d sessions)", before)
    return {"cleared": True, "sessions_deleted": before}


def analyze_upload(deps: WebDeps, uploads: Uploads) -> tuple[Decoded, list[dict[str, Any]]]:
    """The uploaded picture (decoded within :mod:`~affectra_edge.webui.images`' budget) and
    its faces, boxes in the decoded picture's pixels; nothing of the upload is kept."""
    max_upload = uploads.max_bytes
    req = bottle.request
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if ctype.startswith("multipart/"):
        try:
            upload = req.files.get("image")
        except Exception as exc:  # bottle's multipart parser: malformed bodies
            raise InvalidInput("image", f"malformed upload ({exc})") from None
        if upload is None:
            raise InvalidInput("image", "no file in the 'image' field")
        data = upload.file.read(max_upload + 1)
    elif ctype in ("image/jpeg", "image/png"):
        data = req.body.read(max_upload + 1)
    else:
        raise InvalidInput("image", "send multipart/form-data with an 'image' field")
    try:
        with uploads.slots:
            picture = decode(data, max_upload)
            del data
            return picture, faces_json(deps.analyze(picture.image))
    except Busy as exc:
        raise bottle.HTTPError(503, str(exc), **{"Retry-After": "2"}) from None


def full_size_faces(picture: Decoded, faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``faces`` with boxes in the uploaded picture's pixels (it may be decoded reduced)."""
    if picture.scale == 1:
        return faces
    k = picture.scale
    return [{**f, "box": [int(v) * k for v in f["box"]]} for f in faces]
