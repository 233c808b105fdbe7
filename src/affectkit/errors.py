"""A few precise exception types. Messages name the thing, the path and the fix."""


class AffectkitError(Exception):
    """Base class for errors raised by affectkit."""


class DataError(AffectkitError):
    """A corpus root, file or record is missing, malformed or in an unexpected layout."""


class ConfigError(AffectkitError):
    """A configuration value or name is invalid."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup failed; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class SplitLeakError(DataError):
    """A split that claims speaker independence has a speaker on both sides."""


class FeatureError(AffectkitError):
    """Feature extraction failed for an item (decode error, wrong shape, ...)."""


class MediaError(AffectkitError):
    """A media file cannot be decoded, is empty, or exceeds a limit."""
