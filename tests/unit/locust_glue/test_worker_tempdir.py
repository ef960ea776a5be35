"""Workers on one host must not share the file Locust writes the downloaded locustfile to."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from locust.argument_parser import parse_locustfiles_from_master

from framework.locust_glue.worker_main import use_private_tempdir


@pytest.fixture
def restored_tempdir():
    before = tempfile.tempdir
    yield
    tempfile.tempdir = before


def test_each_worker_writes_the_masters_bundle_into_a_folder_of_its_own(restored_tempdir):
    bundle = [{"filename": "swarm_bundle.py", "contents": "# the master's bundle\n"}]
    shared = Path(tempfile.gettempdir())
    paths = []
    for _worker in range(2):  # what two workers started on one host each do
        folder = use_private_tempdir()
        (path,) = parse_locustfiles_from_master(bundle)
        paths.append(Path(path))
        assert Path(path).parent == Path(folder) != shared
        assert Path(path).read_text() == "# the master's bundle\n"
    assert paths[0] != paths[1]
