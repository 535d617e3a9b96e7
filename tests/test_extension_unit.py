"""The extension's own unit tests (`node --test` over `extension/test/*.test.js`), run from pytest
so that the README's single test command covers them too."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support import ROOT

EXTENSION = ROOT / "extension"


def test_the_extension_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the extension's unit tests (node --test) need it")
    # The files by name: how node treats a directory argument changed between versions.
    files = sorted(str(p.relative_to(EXTENSION)) for p in (EXTENSION / "test").glob("*.test.js"))
    assert files, "no extension/test/*.test.js"
    result = subprocess.run(
        [node, "--test", *files],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # node prints a summary; make sure tests really ran (an empty folder also "passes")
    assert "# fail 0" in output, output
    passed = [line for line in output.splitlines() if line.startswith("# pass ")]
    assert passed and int(passed[-1].split()[-1]) >= 20, output


def test_the_manifest_asks_for_little_and_offers_shortcuts() -> None:
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    # activeTab, not tabs: no "Read your browsing history" warning at install
    assert sorted(manifest["permissions"]) == ["activeTab", "alarms", "idle", "storage"]
    commands = manifest["commands"]
    assert commands["_execute_action"]["suggested_key"]["default"] == "Alt+Shift+T"
    assert "stop-timer" in commands
