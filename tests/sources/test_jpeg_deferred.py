"""A JPEG source's frames are decoded in full only when something needs the picture.

The ESP32-CAM source hands the pipeline frames that carry their size (from the JPEG header);
a small grey preview (libjpeg's reduced-size decode) and the picture are decoded on first use.
A still, empty scene under the adaptive schedule is measured on the previews and never decoded;
a visitor gets the same picture (pixel for pixel) that decoding on capture gave, and while
somebody is tracked motion uses that picture rather than a preview.
"""

from __future__ import annotations

import dataclasses
import threading

import cv2
import numpy as np
import pytest

from affectra_edge.config import Config
from affectra_edge.jpeg import frame_header
from affectra_edge.pipeline import build_pipeline
from affectra_edge.sources.common import jpeg_frame, make_frame
from affectra_edge.types import Frame, FrameDecodeError
from affectra_edge.webui.routes_streams import _JpegCache

FPS = 15.0


def encode(img: np.ndarray, **params: int) -> bytes:
    flags = [cv2.IMWRITE_JPEG_QUALITY, 85]
    for k, v in params.items():
        flags += [getattr(cv2, k), v]
    ok, buf = cv2.imencode(".jpg", img, flags)
    assert ok
    return buf.tobytes()


@pytest.fixture
def picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((720, 1280, 3), 110, np.uint8)
    img[200:500, 500:800] = (40, 90, 200)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def test_frame_header_reads_the_size_of_baseline_and_progressive_files(picture):
    assert frame_header(encode(picture)) == (1280, 720, False, 3)
    prog = frame_header(encode(picture[:240, :320], IMWRITE_JPEG_PROGRESSIVE=1))
    assert prog is not None and prog[:3] == (320, 240, True)
    assert frame_header(b"\xff\xd8\xff\xd9") is None
    assert frame_header(b"not a jpeg at all") is None
    # a header cut off inside the frame header
    data = encode(picture)
    sof = data.index(b"\xff\xc0")
    assert frame_header(data[: sof + 6]) is None


@pytest.mark.parametrize("width, detect", [(1280, 640), (640, 640), (320, 640), (1280, 0)])
def test_deferred_frame_has_its_size_and_preview_and_decodes_to_the_same_picture(
    picture, width, detect
):
    img = cv2.resize(picture, (width, width * 9 // 16), interpolation=cv2.INTER_AREA)
    data = encode(img)
    frame = jpeg_frame(data, 5.0, 7, detect)
    assert frame is not None and not frame.decoded and frame._preview is None
    eager = make_frame(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), 5.0, 7, detect
    )
    # size, timestamp and index without decoding
    assert (frame.width, frame.height, frame.timestamp, frame.index) == (
        eager.width,
        eager.height,
        5.0,
        7,
    )
    assert not frame.decoded
    # the preview is grey, at least as wide as the motion mask (or the frame), never wider
    # than the frame it stands for
    assert frame.preview is not None and frame.preview.ndim == 2
    assert min(160, frame.width) <= frame.preview.shape[1] <= max(160, frame.width)
    # decoded on first use: exactly the picture decoding on capture gives
    assert np.array_equal(frame.image, eager.image)
    assert frame.decoded
    full, scale = frame.for_classifier
    want_full, want_scale = eager.for_classifier
    assert np.array_equal(full, want_full) and scale == want_scale


def test_truncated_or_headerless_jpeg_is_no_frame(picture):
    data = encode(picture)
    assert jpeg_frame(data[: len(data) // 2], 0.0, 0, 640) is None
    assert jpeg_frame(b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9", 0.0, 0, 640) is None


def test_a_picture_that_does_not_decode_in_full_is_a_clear_error_once_asked_for():
    calls = []

    def decode():
        calls.append(1)
        return None

    grey = np.zeros((120, 160), np.uint8)
    frame = Frame.deferred(decode, (640, 480), lambda: grey, 1.0, 3)
    with pytest.raises(FrameDecodeError, match="frame 3: the camera's JPEG did not decode"):
        _ = frame.image
    assert frame.preview is grey and not frame.decoded
    # a decode that gives a picture of another size is refused the same way
    odd = Frame.deferred(
        lambda: (np.zeros((10, 10, 3), np.uint8), None), (640, 480), lambda: grey, 1.0, 4
    )
    with pytest.raises(FrameDecodeError):
        _ = odd.full
    # and a preview that does not decode
    blind = Frame.deferred(decode, (640, 480), lambda: None, 1.0, 5)
    with pytest.raises(FrameDecodeError, match="frame 5"):
        _ = blind.preview
    # a failure is remembered: asking again (the live view after the pipeline) is the same
    # clear error, without decoding again
    n = len(calls)
    for f in (frame, blind):
        with pytest.raises(FrameDecodeError):
            _ = f.for_classifier
    assert len(calls) == n + 1  # blind's own picture, tried once; frame's not again
    with pytest.raises(FrameDecodeError):
        _ = blind.preview
    # the live view shows a placeholder instead of failing the stream
    item = type("Item", (), {"seq": 1, "frame": frame, "result": None})()
    jpeg = _JpegCache().get(item, "off")
    assert jpeg[:2] == b"\xff\xd8" and cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1) is not None


def test_two_threads_asking_at_once_decode_once(picture):
    data = encode(picture)
    frame = jpeg_frame(data, 0.0, 0, 640)
    assert frame is not None
    counted = []
    inner = frame._decode

    def counting():
        counted.append(1)
        return inner()

    frame._decode = counting
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(frame.image)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counted) == 1 and all(s is seen[0] for s in seen)


def test_adaptive_pipeline_never_decodes_a_still_empty_scene_and_decodes_a_visitor(astronaut):
    wall = np.full((480, 640, 3), 120, np.uint8)
    wall[:, 320:] = 150
    rng = np.random.default_rng(1)

    def shot(img):
        noisy = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        return encode(noisy)

    cfg = Config()
    pipe = build_pipeline(
        cfg.replace(detector=dataclasses.replace(cfg.detector, schedule="adaptive"))
    )
    base = 1_700_000_000.0
    frames = [jpeg_frame(shot(wall), base + i / FPS, i, 640) for i in range(45)]
    assert all(f is not None for f in frames)
    steps = []
    for f in frames:
        pipe.process(f)
        steps.append(pipe.last_step)
    decoded = [f.decoded for f in frames]
    # the first frame and the idle refresh after 2 s were looked at; nothing else decoded
    assert steps.count("full") == 2 and steps.count("skip") == 43
    assert decoded == [s == "full" for s in steps]
    # a visitor walks in: motion on the preview, then the picture is decoded and detected
    visitor = wall.copy()
    visitor[100:333, 250:450] = cv2.resize(astronaut[20:300, 110:350], (200, 233))
    f = jpeg_frame(shot(visitor), base + 45 / FPS, 45, 640)
    assert f is not None
    pipe.process(f)
    assert pipe.last_step == "full" and f.decoded
    assert pipe.tracker.boxes()  # the face was found
    # with a viewer tracked the picture is needed anyway, and motion uses it: no preview
    later = [jpeg_frame(shot(visitor), base + (46 + i) / FPS, 46 + i, 640) for i in range(5)]
    for g in later:
        assert g is not None
        pipe.process(g)
        assert g.decoded and g._preview is None
