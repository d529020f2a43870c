"""weaver-facade: a spec-first Python SDK for Weaver's checkpoint workflow."""

__version__ = "0.1.0"
