from __future__ import annotations

import shutil

import pytest

from affectra_edge import models
from affectra_edge.errors import EXIT_MODEL, ModelError


def test_every_pinned_model_verifies():
    keys = {k for k, _ in models.verify_all()}
    assert keys == set(models.MODELS)


def test_our_emotion_model_ships_inside_the_package():
    path = models.model_path("emotion_affectra")
    assert path.parent.name == "data" and path.parent.parent.name == "affectra_edge"
    # the limit for the shipped model
    assert path.stat().st_size <= 1_000_000


@pytest.mark.parametrize("key", ["emotion", "emotion_affectra"])
def test_corrupt_model_names_file_and_fix(key, tmp_path, monkeypatch):
    bad = tmp_path / models.locate(key).name
    shutil.copy(models.locate(key), bad)
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(models, "_verified", {})
    monkeypatch.setattr(models, "locate", lambda key: bad)
    with pytest.raises(ModelError) as err:
        models.model_path(key)
    msg = str(err.value)
    assert str(bad) in msg and "corrupt" in msg and "make setup" in msg
    assert err.value.exit_code == EXIT_MODEL


def test_missing_model_file_and_missing_package(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "_verified", {})
    monkeypatch.setattr(models, "locate", lambda key: tmp_path / "gone.tflite")
    with pytest.raises(ModelError, match=r"gone\.tflite is missing.*make setup"):
        models.model_path("face_short")
    monkeypatch.undo()
    monkeypatch.setitem(
        models.MODELS,
        "ghost",
        models.ModelFile("ghost", "no-such-dist-xyz", "x/y.tflite", "0" * 64, "ghost model"),
    )
    with pytest.raises(ModelError, match="no-such-dist-xyz"):
        models.locate("ghost")


def test_the_appliance_verifies_without_the_test_photograph(monkeypatch):
    """`make setup` installs no scikit-image: `models verify` must pass without it, and the
    tests' photograph, when asked for, names `make test-setup`."""
    import importlib.metadata

    real = importlib.metadata.distribution

    def without_skimage(name):
        if name == "scikit-image":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(models, "_verified", {})
    monkeypatch.setattr(importlib.metadata, "distribution", without_skimage)
    keys = {k for k, _ in models.verify_all()}
    assert keys == {k for k, m in models.MODELS.items() if not m.tests_only}
    assert "astronaut" not in keys and {"emotion_affectra", "face_short"} <= keys
    with pytest.raises(ModelError, match=r"scikit-image.*make test-setup"):
        models.model_path("astronaut")
