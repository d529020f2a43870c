"""The package version, in one place, and the ``User-Agent`` it is sent as."""

__version__ = "0.1.0"
USER_AGENT = f"weaver-facade/{__version__}"
