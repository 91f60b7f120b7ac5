"""USB (V4L2) and Pi camera (picamera2) paths, as far as a machine without cameras allows."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import cv2
import numpy as np
import pytest

from affectra_edge.config import CameraConfig, load_config
from affectra_edge.ports import SourceError, SourceUnavailable
from affectra_edge.sources import SourceCounters, build_source, usb
from affectra_edge.sources import picamera as picam


# ---- USB -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("device", "parsed", "path"),
    [
        ("0", 0, "/dev/video0"),
        ("3", 3, "/dev/video3"),
        ("", 0, "/dev/video0"),
        ("/dev/video2", "/dev/video2", "/dev/video2"),
        (
            "/dev/v4l/by-id/usb-Logitech-video-index0",
            "/dev/v4l/by-id/usb-Logitech-video-index0",
            "/dev/v4l/by-id/usb-Logitech-video-index0",
        ),
    ],
)
def test_parse_device(device, parsed, path):
    assert usb.parse_device(device) == parsed
    assert usb.device_path(device) == path


def test_device_index_from_toml_integer(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[camera]\ntype = "usb"\ndevice = 2\n')
    camera = load_config(cfg).camera
    assert usb.device_path(camera.device) == "/dev/video2"


def test_capture_settings_ask_for_mjpg_before_the_size():
    import cv2

    cam = CameraConfig(type="usb", width=1280, height=720, fps=30, timeout_s=4)
    settings = usb.capture_settings(cam)
    names = [n for n, _ in settings]
    assert names.index("CAP_PROP_FOURCC") < names.index("CAP_PROP_FRAME_WIDTH")
    values = dict(settings)
    assert values["CAP_PROP_FOURCC"] == cv2.VideoWriter_fourcc(*"MJPG") == usb.fourcc("MJPG")
    assert (values["CAP_PROP_FRAME_WIDTH"], values["CAP_PROP_FRAME_HEIGHT"]) == (1280, 720)
    assert values["CAP_PROP_FPS"] == 30 and values["CAP_PROP_BUFFERSIZE"] == 1
    assert values["CAP_PROP_READ_TIMEOUT_MSEC"] == 4000
    # every name is a real OpenCV property of the installed build
    assert all(hasattr(cv2, n) for n in names)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 is Linux-only")
def test_absent_device_names_it():
    src = build_source(CameraConfig(type="usb", device="/dev/video7"), SourceCounters())
    with pytest.raises(SourceError, match=r"/dev/video7: no such video device") as err:
        src.open()
    assert not isinstance(err.value, SourceUnavailable)  # a re-plugged camera comes back
    with pytest.raises(SourceError, match=r"/dev/video7"):
        build_source(CameraConfig(type="usb", device="7"), SourceCounters()).open()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 is Linux-only")
def test_regular_file_is_not_a_camera(tmp_path):
    f = tmp_path / "video0"
    f.write_bytes(b"not a device")
    with pytest.raises(SourceUnavailable, match="not a video device node"):
        build_source(CameraConfig(type="usb", device=str(f)), SourceCounters()).open()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 is Linux-only")
def test_character_device_that_is_not_a_camera():
    """/dev/null is a real character device: OpenCV's V4L2 backend must refuse it."""
    src = build_source(CameraConfig(type="usb", device="/dev/null"), SourceCounters())
    with pytest.raises(SourceError, match=r"/dev/null: cannot open with V4L2"):
        src.open()
    src.close()


def test_to_bgr_channels():
    import numpy as np

    assert usb.to_bgr(np.zeros((4, 6), np.uint8)).shape == (4, 6, 3)
    assert usb.to_bgr(np.zeros((4, 6, 4), np.uint8)).shape == (4, 6, 3)


# ---- Pi camera -----------------------------------------------------------------------------
def test_video_configuration_main_rgb_and_lores_yuv():
    kw = picam.video_configuration(CameraConfig(type="picamera", width=1280, height=720, fps=15))
    assert kw["main"] == {"size": (1280, 720), "format": "RGB888"}
    # lores = the detection copy, [camera] detect_width wide (default 640)
    assert kw["lores"] == {"size": (640, 360), "format": "YUV420"}
    assert kw["controls"]["FrameDurationLimits"] == (66667, 66667)
    assert kw["queue"] is False and kw["buffer_count"] >= 2
    assert kw["display"] is None and kw["encode"] is None


@pytest.mark.parametrize(("w", "h"), [(1281, 721), (1920, 1080), (1000, 750), (1333, 751)])
def test_video_configuration_sizes_are_even_and_lores_fits(w, h):
    kw = picam.video_configuration(CameraConfig(type="picamera", width=w, height=h))
    mw, mh = kw["main"]["size"]
    assert mw % 2 == 0 and mh % 2 == 0 and abs(mw - w) <= 1 and abs(mh - h) <= 1
    lw, lh = kw["lores"]["size"]
    assert lw % 2 == 0 and lh % 2 == 0 and lw <= mw and lh <= mh
    assert abs(lw / lh - mw / mh) < 0.05  # same aspect ratio


def test_lores_width_follows_detect_width_in_whole_rows():
    kw = picam.video_configuration(
        CameraConfig(type="picamera", width=1920, height=1080, detect_width=500)
    )
    assert kw["lores"]["size"] == (448, 252)  # 64-px multiple: YUV420 rows without padding
    off = picam.video_configuration(
        CameraConfig(type="picamera", width=1920, height=1080, detect_width=0)
    )
    assert "lores" not in off


def test_lores_yuv420_becomes_the_detection_image():
    rng = np.random.default_rng(0)
    bgr = cv2.resize(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), (640, 360))
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    assert yuv.shape == (540, 640)
    back = picam.yuv420_to_bgr(yuv, 640, 360)
    assert back.shape == (360, 640, 3)
    assert np.abs(back.astype(int) - bgr.astype(int)).mean() < 6
    with pytest.raises(SourceError):
        picam.yuv420_to_bgr(yuv[:500], 640, 360)


def test_small_main_stream_needs_no_lores():
    kw = picam.video_configuration(CameraConfig(type="picamera", width=320, height=240))
    assert "lores" not in kw


def test_camera_index_from_device():
    assert picam.camera_index("1") == 1
    assert picam.camera_index("0") == 0
    assert picam.camera_index("/dev/video0") == 0


def test_picamera2_is_imported_lazily():
    import subprocess

    code = "import affectra_edge.sources.picamera, sys; print('picamera2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(
    importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed here"
)
def test_missing_picamera2_says_how_to_install():
    src = build_source(CameraConfig(type="picamera"), SourceCounters())
    with pytest.raises(SourceUnavailable) as err:
        src.open()
    msg = str(err.value)
    assert "picamera2 is not installed" in msg
    assert "sudo apt install python3-picamera2" in msg and "--system-site-packages" in msg


def test_picamera2_without_libcamera_bindings(tmp_path, monkeypatch):
    """A pip-installed picamera2 on a non-Pi OS fails on ``import libcamera``: say so."""
    pkg = tmp_path / "picamera2"
    pkg.mkdir()
    # the real package's first import line; libcamera itself is absent here
    (pkg / "__init__.py").write_text(textwrap.dedent("import libcamera  # noqa\n"))
    if importlib.util.find_spec("libcamera") is not None:
        pytest.skip("libcamera bindings are installed here")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    with pytest.raises(SourceUnavailable, match="libcamera's Python bindings are not"):
        picam.import_picamera2()
    sys.modules.pop("picamera2", None)
