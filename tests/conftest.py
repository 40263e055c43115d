"""Shared fixtures: the embedded mini-SciVid (generated once per machine, then reused)."""
import os
import pytest

os.environ.setdefault('JAX_PLATFORMS', 'cpu')

@pytest.fixture(scope='session')
def mini_root():
    "The mini-SciVid data folder (generated into the cache on first use)."
    from scivid.mini import mini_scivid_dir
    return mini_scivid_dir()
