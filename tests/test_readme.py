"""Every Python block of README.md runs verbatim, so the README cannot rot."""
import os
import re

import pytest

from conftest import REPO_ROOT

with open(os.path.join(REPO_ROOT, "README.md")) as handle:
    BLOCKS = re.findall(r"```python\n(.*?)```", handle.read(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the blocks write files (aan.keras, aan_savedmodel)
    namespace: dict = {"__name__": f"readme_block_{index}"}
    exec(compile(BLOCKS[index], f"README.md block {index + 1}", "exec"), namespace)
    if "model" in namespace:
        assert int(namespace["model"].g_optimizer.iterations.numpy()) > 0
