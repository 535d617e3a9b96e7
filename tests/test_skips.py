"""A test run says why tests were skipped, so that nobody mistakes a skip for a pass."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import ROOT


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("TIMETRAIL_TEST_MONGODB_URI")), reason="the MongoDB tests run here"
)
def test_the_summary_names_the_variable_that_runs_the_mongodb_tests() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIMETRAIL_TEST_MONGODB_URI"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_store_contract.py",
            "-k",
            "mongodb",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped, result.stdout
    assert all("TIMETRAIL_TEST_MONGODB_URI" in line for line in skipped), skipped
