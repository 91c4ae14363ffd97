"""`make voila` (scripts/voila_server_config.py) against a real server on 127.0.0.1:
a token, a Host check, and a cap on kernels."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "scripts" / "voila_server_config.py"
JUPYTER = Path(sys.executable).parent / "jupyter"
MAX_KERNELS = 2

pytest.importorskip("voila")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, host: str | None = None):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("voila-server")
    root = home / "notebooks"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello from the kernel')")]
    nbformat.write(nb, root / "tiny.ipynb")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               IPYTHONDIR=str(home / "ipython"), JUPYTER_PLATFORM_DIRS="1")
    port = free_port()
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [str(JUPYTER), "server", f"--config={CONFIG}", f"--port={port}",
         f"--ServerApp.root_dir={root}", f"--CappedKernelManager.max_kernels={MAX_KERNELS}"]
        + (["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, token = time.monotonic() + 60, None
        while token is None and time.monotonic() < deadline:
            assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
            found = re.search(r"\?token=([0-9a-f]+)", (home / "server.log").read_text())
            token = found and found.group(1)
            time.sleep(0.2)
        assert token, "the server printed no URL with a token"
        yield f"http://127.0.0.1:{port}", token, home / "server.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        log.close()


def test_it_prints_the_playground_url_with_its_token(server):
    base, token, log = server
    assert f"{base}/voila/render/05_playground.ipynb?token={token}" in log.read_text()


def test_without_the_token_nothing_is_served(server):
    base, _, _ = server
    status, _ = get(f"{base}/voila/render/tiny.ipynb")
    assert status in (302, 403)  # to the login page
    status, _ = get(f"{base}/api/kernels")
    assert status == 403


def test_a_foreign_host_header_is_refused(server):
    base, token, _ = server
    status, _ = get(f"{base}/api/status?token={token}", host="rebind.example.com")
    assert status == 403
    assert get(f"{base}/api/status?token={token}")[0] == 200


def test_page_loads_cannot_start_more_kernels_than_the_cap(server):
    base, token, _ = server
    for _ in range(MAX_KERNELS):
        status, page = get(f"{base}/voila/render/tiny.ipynb?token={token}")
        assert status == 200 and "hello from the kernel" in page
    status, page = get(f"{base}/voila/render/tiny.ipynb?token={token}")
    assert status == 503 and "the most this server allows" in page
    status, kernels = get(f"{base}/api/kernels?token={token}")
    assert status == 200 and len(json.loads(kernels)) == MAX_KERNELS


def test_the_culler_is_on(server):
    _, _, log = server
    text = log.read_text()
    assert "Culling kernels with idle durations > 600 seconds at 60 second intervals" in text
