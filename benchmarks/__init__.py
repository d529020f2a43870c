"""Benchmarks of weaver-facade; run them with ``scripts/bench`` (see ``benchmarks/run.py``)."""
