"""The commented config template documents every key with its real default (cannot drift)."""

from __future__ import annotations

import dataclasses
import re
import sys

from affectra_edge.config import SECTIONS, Config, parse_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEY_LINE = re.compile(r"^# ([a-z_]+) = (.+)$")
#: defaults that depend on the machine (documented by an example instead)
MACHINE_DEPENDENT = {("device", "id")}


def _template(repo) -> str:
    return (repo / "scripts" / "config.example.toml").read_text(encoding="utf-8")


def _documented(text: str) -> dict[str, dict[str, str]]:
    """section → key → the commented-out value line, as written."""
    out: dict[str, dict[str, str]] = {}
    section = None
    for line in text.splitlines():
        m = re.match(r"^\[([a-z]+)\]$", line)
        if m:
            section = m.group(1)
            out.setdefault(section, {})
            continue
        m = KEY_LINE.match(line)
        if m and section is not None:
            assert m.group(1) not in out[section], f"[{section}] {m.group(1)} documented twice"
            out[section][m.group(1)] = m.group(2)
    return out


def test_template_is_valid_as_shipped(repo):
    cfg = parse_config(tomllib.loads(_template(repo)), "config.example.toml")
    # all keys commented out: the shipped file means "all defaults"
    assert cfg.camera == Config().camera and cfg.storage == Config().storage


def test_every_key_is_documented_with_its_default(repo):
    text = _template(repo)
    documented = _documented(text)
    assert set(documented) == set(SECTIONS), "sections in the template differ from the schema"
    missing, extra = [], []
    for name, cls in SECTIONS.items():
        fields = {f.name for f in dataclasses.fields(cls)}
        missing += [f"[{name}] {k}" for k in sorted(fields - set(documented[name]))]
        extra += [f"[{name}] {k}" for k in sorted(set(documented[name]) - fields)]
    assert not missing, f"keys missing from scripts/config.example.toml: {missing}"
    assert not extra, f"keys in the template that the schema does not know: {extra}"

    # Uncomment every key line: the result must parse and equal the built-in defaults.
    uncommented = "\n".join(
        KEY_LINE.sub(r"\1 = \2", line) if KEY_LINE.match(line) else line
        for line in text.splitlines()
    )
    data = tomllib.loads(uncommented)
    cfg = parse_config(data, "config.example.toml (uncommented)")
    defaults = Config()
    wrong = []
    for name in SECTIONS:
        for f in dataclasses.fields(SECTIONS[name]):
            if (name, f.name) in MACHINE_DEPENDENT:
                continue
            got, want = (
                getattr(getattr(cfg, name), f.name),
                getattr(getattr(defaults, name), f.name),
            )
            if got != want:
                wrong.append(f"[{name}] {f.name}: template says {got!r}, default is {want!r}")
    assert not wrong, "\n".join(wrong)


def test_installer_camera_marker_is_unique(repo):
    # install.sh sets the camera by replacing this exact commented line
    assert _template(repo).count('\n# type = "demo"\n') == 1
