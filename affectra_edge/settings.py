"""Run-time settings: the few configuration keys staff may change from the web UI without a
restart (threshold, retention, artwork, device name, live-view privacy).

Each setting *is* a key of the configuration schema (:data:`FIELDS`), so its type, range and
pattern are that key's, checked by :func:`affectra_edge.config.check_value`: the web UI can
never accept a value the configuration file would refuse. :class:`RuntimeSettings` is the one
owner: it holds the effective configuration (file + saved changes), saves changes in the
store's settings table, applies the retention limits to the store and tells its listeners
(the appliance's session builder, the read model's caches) what changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from affectra_edge.config import (
    Config,
    ConfigError,
    DeviceConfig,
    FieldSpec,
    check_value,
    field_spec,
)

logger = logging.getLogger(__name__)

#: run-time setting → the ``(section, key)`` of the configuration it overrides (in the order
#: forms show them and errors are reported)
FIELDS: dict[str, tuple[str, str]] = {
    "threshold": ("classifier", "threshold"),
    "retention_days": ("storage", "retention_days"),
    "max_sessions": ("storage", "max_sessions"),
    "artwork": ("device", "artwork"),
    "device_name": ("device", "name"),
    "privacy": ("web", "privacy"),
}
_RETENTION = frozenset({"retention_days", "max_sessions"})


class SettingError(ValueError):
    """A setting that does not exist or a value its configuration key does not allow."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class SettingsChange:
    """What listeners are told: the new effective configuration and the settings that were set."""

    config: Config
    keys: frozenset[str]


class SettingsStore(Protocol):
    def get_setting(self, key: str, default: Any = None) -> Any: ...
    def set_setting(self, key: str, value: Any) -> None: ...
    def set_retention(self, retention_days: int, max_sessions: int) -> None: ...


def _value(cfg: Config, key: str) -> Any:
    section, name = FIELDS[key]
    return getattr(getattr(cfg, section), name)


def spec(key: str) -> FieldSpec:
    """Type, range and choices of a setting, from its configuration key."""
    if key not in FIELDS:
        raise SettingError(key, "is not a setting")
    return field_spec(*FIELDS[key])


class RuntimeSettings:
    def __init__(self, config: Config, store: SettingsStore | None = None):
        self._config = config
        self._store = store
        # Held across validate → apply → save, so two concurrent changes cannot undo each other.
        self._lock = threading.RLock()
        self._listeners: list[Callable[[SettingsChange], None]] = []

    @property
    def config(self) -> Config:
        """The effective configuration: the file's, with the run-time settings applied."""
        return self._config

    @property
    def device(self) -> DeviceConfig:
        return self._config.device

    def subscribe(self, fn: Callable[[SettingsChange], None]) -> None:
        """Called after every change, on the changing thread (must be quick)."""
        self._listeners.append(fn)

    def get(self, key: str) -> Any:
        return _value(self._config, key)

    def current(self) -> dict[str, Any]:
        cfg = self._config  # one configuration for all keys, even while another thread changes it
        return {key: _value(cfg, key) for key in FIELDS}

    def update(self, changes: Mapping[str, Any]) -> None:
        """Check every value, then apply them all at once, save them and tell the listeners.

        Nothing changes when one value is refused (:class:`SettingError` names it)."""
        with self._lock:
            self._apply(self._validated(changes), changes)
            if self._store is not None:
                for key in FIELDS:
                    if key in changes:
                        self._store.set_setting(key, self.get(key))
        logger.info("settings changed: %s", ", ".join(sorted(changes)))

    def load_stored(self) -> None:
        """Apply what earlier changes saved in the store (the file gives the defaults)."""
        if self._store is None:
            return
        stored: dict[str, Any] = {}
        for key in FIELDS:
            value = self._store.get_setting(key)
            if value is None:
                continue
            try:
                self._validated({key: value})
            except SettingError as exc:
                logger.warning("ignoring the saved setting %s", exc)
                continue
            stored[key] = value
        if stored:
            with self._lock:
                self._apply(self._validated(stored), stored)

    # ---- internals -------------------------------------------------------------------------
    def _validated(self, changes: Mapping[str, Any]) -> Config:
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise SettingError(unknown[0], "is not a setting")
        sections: dict[str, dict[str, Any]] = {}
        for key, (section, name) in FIELDS.items():
            if key not in changes:
                continue
            try:
                value = check_value(section, name, changes[key])
            except ConfigError as exc:
                raise SettingError(key, exc.problem) from None
            sections.setdefault(section, {})[name] = value
        cfg = self._config
        return cfg.replace(**{s: replace(getattr(cfg, s), **v) for s, v in sections.items()})

    def _apply(self, cfg: Config, keys: Collection[str]) -> None:
        self._config = cfg
        if self._store is not None and _RETENTION & set(keys):
            self._store.set_retention(cfg.storage.retention_days, cfg.storage.max_sessions)
        change = SettingsChange(cfg, frozenset(keys))
        for fn in self._listeners:
            fn(change)
