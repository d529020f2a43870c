"""The benchmark harness runs: a tiny ``--quick`` run of two benchmarks writes its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run
from benchmarks.common import Section
from benchmarks.run import main


def test_a_quick_run_writes_the_markdown_table(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "B1,B4", "--output", str(output)]) == 0
    text = output.read_text()
    assert "| benchmark | metric | measured | target | verdict |" in text
    assert "| B1 | facade / generated call, p50 |" in text
    assert "| B4 | import weaver_facade / import httpx, p50 |" in text
    assert "| CPU |" in text


def test_a_subset_never_overwrites_the_merged_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # RESULTS.md holds sections merged by hand: `--only B4` alone would replace them
    # all with B4's, so it is refused before anything runs.
    merged = tmp_path / "benchmarks" / "RESULTS.md"
    merged.parent.mkdir()
    merged.write_text("## B1 — merged by hand\n")
    ran: list[bool] = []

    def b4(quick: bool) -> Section:
        ran.append(quick)
        return Section("B4")

    monkeypatch.setattr(run, "ROOT", tmp_path)
    monkeypatch.setitem(run.BENCHMARKS, "B4", b4)
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--only", "B4"])
    assert exit_info.value.code == 2
    assert "--output" in capsys.readouterr().err
    assert ran == []
    assert merged.read_text() == "## B1 — merged by hand\n"
    # With --output, the subset goes where it is told.
    elsewhere = tmp_path / "b4.md"
    assert run.main(["--only", "B4", "--output", str(elsewhere)]) == 0
    assert ran == [False]
    assert "B4" in elsewhere.read_text()
    assert merged.read_text() == "## B1 — merged by hand\n"
