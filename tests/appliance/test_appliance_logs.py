"""Logging: journald fields (systemd-python) and the `<N>`-prefixed stderr fallback."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys

import pytest

from affectra_edge import logs


@pytest.fixture(autouse=True)
def _clean_context():
    yield
    logs._context.clear()


def _record(msg="camera lost", level=logging.WARNING, **extra):
    logger = logging.getLogger("affectra_edge.sources.esp32")
    rec = logger.makeRecord(logger.name, level, __file__, 42, msg, (), None, extra=extra)
    return rec


def test_journal_fields_are_structured():
    sent = []
    handler = logs.JournalHandler(sender=lambda message, **f: sent.append((message, f)))
    logs.set_context(DEVICE_ID="gallery-2")
    handler.emit(_record(CAMERA="esp32", lowercase_is_ignored="x"))
    message, fields = sent[0]
    assert message == "camera lost"
    assert fields["PRIORITY"] == "4" and fields["SYSLOG_IDENTIFIER"] == "affectra-edge"
    assert fields["LOGGER"] == "affectra_edge.sources.esp32" and fields["CODE_LINE"] == "42"
    assert fields["DEVICE_ID"] == "gallery-2" and fields["CAMERA"] == "esp32"
    assert not any(k != k.upper() for k in fields), fields  # only valid journal field names
    with pytest.raises(ValueError):
        logs.set_context(**{"device-id": "x"})


def test_exception_text_field():
    sent = []
    handler = logs.JournalHandler(sender=lambda message, **f: sent.append((message, f)))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    handler.emit(rec)
    message, fields = sent[0]
    assert fields["PRIORITY"] == "3" and "RuntimeError: boom" in fields["EXCEPTION_TEXT"]
    assert "RuntimeError: boom" in message


@pytest.mark.skipif(
    importlib.util.find_spec("systemd") is None, reason="systemd-python is not installed"
)
def test_default_sender_is_systemd_journal():
    from systemd import journal

    assert logs.JournalHandler()._send is journal.send


def test_text_formatter_appends_fields():
    logs.set_context(DEVICE_ID="gallery-2")
    text = logs.TextFormatter(journal=False).format(_record(CAMERA="esp32", URL="http://x y"))
    assert text.endswith(
        'WARNING affectra_edge.sources.esp32: camera lost camera=esp32 url="http://x y"'
    )
    assert "device_id" not in text  # the context is the same on every line: not repeated
    journal_text = logs.TextFormatter(journal=True).format(_record(level=logging.ERROR))
    assert journal_text.startswith("<3>ERROR ")


_CHILD = """
import logging
from affectra_edge.logs import configure
configure("info")
print(type(logging.getLogger().handlers[0]).__name__, flush=True)
logging.getLogger("probe").warning("hello", extra={"CAMERA": "usb"})
"""


def _on_journal_stream(code: str) -> tuple[subprocess.CompletedProcess, str, dict[str, str]]:
    """Run ``code`` in a child whose stderr *is* the stream $JOURNAL_STREAM names (a pipe):
    the finished child, what it wrote to that stderr, and the environment it had."""
    r, w = os.pipe()
    st = os.fstat(w)
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        stderr=w,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        timeout=60,
    )
    os.close(w)
    with os.fdopen(r) as f:
        err = f.read()
    return proc, err, env


def test_stderr_fallback_under_journal_stream():
    """A child whose stderr *is* the stream $JOURNAL_STREAM names writes <N>-prefixed lines
    when systemd-python is unavailable (forced here by hiding the module)."""
    code = "import sys; sys.modules['systemd'] = None\n" + _CHILD
    proc, err, env = _on_journal_stream(code)
    assert proc.returncode == 0
    assert proc.stdout.strip() == "StreamHandler"
    assert "<4>WARNING probe: hello camera=usb" in err, err

    # stderr redirected elsewhere (no longer the journal stream): plain text with a time
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert "<4>" not in proc.stderr and "WARNING probe: hello camera=usb" in proc.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("systemd") is None, reason="systemd-python is not installed"
)
def test_journal_handler_chosen_under_journal_stream():
    code = "import logging\nfrom affectra_edge.logs import configure\nconfigure('info')\n"
    code += "print(type(logging.getLogger().handlers[0]).__name__)"
    proc, _, _ = _on_journal_stream(code)
    assert proc.stdout.strip() == "JournalHandler"
