"""The package version, in one place (also sent as ``weaver-facade/<version>``)."""

__version__ = "0.1.0"
