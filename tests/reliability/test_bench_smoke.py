"""The benchmark harness runs: a tiny ``--quick`` run of two benchmarks writes its table."""

from __future__ import annotations

from pathlib import Path

from benchmarks.run import main


def test_a_quick_run_writes_the_markdown_table(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "B1,B4", "--output", str(output)]) == 0
    text = output.read_text()
    assert "| benchmark | metric | measured | target | verdict |" in text
    assert "| B1 | facade / generated call, p50 |" in text
    assert "| B4 | import weaver_facade / import httpx, p50 |" in text
    assert "| CPU |" in text
