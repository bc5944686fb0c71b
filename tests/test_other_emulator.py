"""Another emulator on localhost (the README's "another emulator" path): a plain moto server reached with
``TTL_ARCHIVE_TARGET=aws AWS_ENDPOINT_URL=...``. It is not the embedded local AWS, though it listens on
127.0.0.1: "ours" is decided by the health check, and notebooks 00-04 run top to bottom against it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from helpers import target
from helpers.notebook_runner import run_notebook

ROOT = Path(__file__).resolve().parent.parent
FIRST_STEPS = ["00_setup", "01_dynamodb_table", "02_s3_bucket", "03_firehose", "04_lambda_trigger"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def plain_moto():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()  # noqa: S310 - loopback
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the plain moto server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def aws_mode(plain_moto, monkeypatch):
    """The environment of a user who points the ``aws`` target at their own emulator (kernels inherit it)."""
    monkeypatch.setenv("TTL_ARCHIVE_TARGET", "aws")
    monkeypatch.setenv("AWS_ENDPOINT_URL", plain_moto)
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv("TTL_ARCHIVE_STACK", f"moto{uuid.uuid4().hex[:6]}")
    return plain_moto


def test_an_emulator_on_loopback_that_is_not_ours_is_not_taken_for_the_embedded_local_aws(aws_mode, local_aws):
    assert not target.is_local(target.session("aws"))
    assert target.is_local(target.session("local"))  # ours answers its health check


def test_notebooks_00_to_04_run_against_a_plain_moto_server_in_aws_mode(aws_mode, tmp_path, monkeypatch):
    from helpers import local

    unused = _free_port()
    monkeypatch.setenv("TTL_ARCHIVE_LOCAL_PORT", str(unused))  # nothing of ours runs there, as on the user's machine
    for name in FIRST_STEPS:
        out = run_notebook(ROOT / "notebooks" / f"{name}.ipynb", output_dir=tmp_path, timeout=300)
        assert out is not None and out.exists(), name
    text = (tmp_path / "00_setup.ipynb").read_text()
    assert "ap-northeast-1" in text and aws_mode in text  # it says where it works: the region and the endpoint
    assert local.health(unused) is None  # and the aws target never started the embedded local AWS
