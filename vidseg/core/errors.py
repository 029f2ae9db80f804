"""Errors a user can meet, as one exception family.

Messages name the file, config key or video involved; tracebacks are for bugs.
"""


class VidsegError(Exception):
    """Base class for every error caused by user input (config, files, videos)."""


class ConfigError(VidsegError, ValueError):
    """A configuration key is unknown or has a bad value."""


class ConfigWarning(UserWarning):
    """A configuration key is accepted (matterport configs set it) but does not change what vidseg does."""


class WeightsError(VidsegError):
    """A weights file cannot be read or does not fit the model."""


class EncoderError(VidsegError):
    """ffmpeg could not encode with the configured encoder (e.g. a hardware encoder without its driver)."""


# How a job's log says it stopped on an error (vidseg.core.logs writes it, vidseg.workflow.status reads it).
FAILED_MARK = "FAILED: "


def settings_from_config(cls, settings, key: str):
    """A settings dataclass `cls` from the config mapping under `key` (None: all defaults); an unknown key is a
    ConfigError naming it (the dataclass checks the values)."""
    settings = dict(settings or {})
    unknown = set(settings) - set(cls.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"config key '{key}': unknown key(s) {sorted(unknown)}")
    return cls(**settings)
