"""Runs one test file under pytest: the entry point of the Bazel py_test targets.

Bazel runs the targets side by side itself: setup.cfg's two pytest-xdist workers are left out
(`-o addopts=`), so a target needs no xdist.
"""
import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-p", "no:xdist", "-o", "addopts=", *sys.argv[1:]]))
