"""The sdist carries what its README, the package's long description, points to."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sdist_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("weaver_facade-*.tar.gz")
    with tarfile.open(built) as tf:
        # Each member is under the sdist's top folder, `weaver_facade-VERSION/`.
        return {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}


def test_every_file_the_readme_links_to_ships_in_the_sdist(sdist_names: set[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    targets = {
        target.split("#", 1)[0]
        for target in re.findall(r"\]\(([^)\s]+)\)", readme)
        if "://" not in target and not target.startswith("#")
    }
    assert targets, "README.md links to no file: this test checks nothing"
    assert sorted(targets - sdist_names) == []


def test_the_example_ships_in_the_sdist(sdist_names: set[str]) -> None:
    # README: "The example runs unchanged against any Weaver server".
    assert "examples/resume_training.py" in sdist_names
