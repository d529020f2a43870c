"""The wheel ships both packages, typed, with only the client's runtime dependencies."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("weaver_facade-*.whl")
    return built


def test_wheel_ships_both_packages_with_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "weaver_facade/__init__.py" in names
    assert "weaver_facade/py.typed" in names
    assert "weaver_client/__init__.py" in names
    assert "weaver_client/py.typed" in names
    assert "weaver_client/api/checkpoints/save_checkpoint.py" in names
    # The generated package is top-level, not nested under `generated/`.
    assert not any(name.startswith("generated/") for name in names)


def test_runtime_dependencies_are_only_what_the_client_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    assert meta["Name"] == "weaver-facade"
    assert meta["Requires-Python"] == ">=3.11"
    requires = meta.get_all("Requires-Dist") or []
    unconditional = sorted(r.split(">")[0].split("<")[0] for r in requires if "extra ==" not in r)
    assert unconditional == ["attrs", "httpx", "sniffio"]
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"cli", "emulator", "contract", "dev"} <= extras
    # Extras are pinned exactly.
    for req in requires:
        if "extra ==" in req and "weaver-facade" not in req:
            assert "==" in req, req


def test_console_script_is_declared(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        ep_name = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        entry_points = zf.read(ep_name).decode()
        names = zf.namelist()
    # A module outside the package, so that a Ctrl-C while the package imports is caught;
    # the command then checks for the `cli` extra before importing click.
    assert "weaver-facade = _weaver_facade_cli:run" in entry_points
    assert "_weaver_facade_cli.py" in names


def test_the_pytest_plugin_has_no_entry_point(wheel: Path) -> None:
    # The README: the plugin is opt-in, so it never loads into suites that did not ask for
    # it; a `pytest11` entry point would load it into every suite of the environment.
    with zipfile.ZipFile(wheel) as zf:
        ep_name = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        entry_points = configparser.ConfigParser()
        entry_points.read_string(zf.read(ep_name).decode())
    assert "pytest11" not in entry_points
    for section in entry_points.values():
        assert not any("pytest_plugin" in target for target in section.values())


def test_wheel_ships_the_license_it_declares(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
        (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        shipped = zf.read(license_name).decode()
    assert meta["License-Expression"] == "MIT"
    assert shipped == (ROOT / "LICENSE").read_text()
    assert shipped.startswith("MIT License\n")


def test_an_installed_wheel_finds_its_spec(wheel: Path, tmp_path: Path) -> None:
    # Unpacked away from the checkout, spec_path() must find the copy the wheel ships.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from weaver_facade.emulator import spec_path; print(spec_path())"
    found = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    shipped = site / "weaver_facade" / "emulator" / "openapi.yaml"
    assert Path(found) == shipped
    assert shipped.read_bytes() == (ROOT / "openapi.yaml").read_bytes()
