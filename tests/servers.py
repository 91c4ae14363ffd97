"""What the tests that start a Jupyter server and drive Chromium share.

Each server runs on 127.0.0.1 at a free port in its own process group, with
its config, data, runtime and IPython folders inside a temporary home, and
is stopped at the end (``Server.stop``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent  # jupyter and voila of this environment
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NO_CHROMIUM = ("Chromium is not installed at /usr/bin/chromium; install it with "
               "`apt-get install chromium` (Debian/Ubuntu) to run the browser tests")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(home: Path) -> dict:
    """Jupyter's config, data, runtime and IPython folders inside ``home``."""
    env = dict(os.environ)
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
        env[name] = str(home / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def lab_settings(home: Path) -> Path:
    """JupyterLab user settings in ``home``: no news toast over the page, every cell rendered."""
    settings = home / "settings"
    for extension, name, values in [
            # no "get notified about news?" toast over the page
            ("apputils-extension", "notification", {"fetchNews": "false",
                                                    "checkForUpdates": False}),
            # every cell stays in the page, even when scrolled out of view
            ("notebook-extension", "tracker", {"windowingMode": "none"})]:
        folder = settings / "@jupyterlab" / extension
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    return settings


class Server:
    """A server process in its own process group, stopped by ``stop``."""

    stop_seconds = 15  # for the server to shut its kernels down before it is killed

    def __init__(self, cmd: list, env: dict, log: Path, url: str):
        self.url, self.log_path = url, log
        self._log = open(log, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_until_up(self, probe: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                urllib.request.urlopen(probe, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"no answer from {probe} after {seconds} s:\n"
                           + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.terminate()  # lets the server shut its kernels down
                try:
                    self.proc.wait(self.stop_seconds)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
        finally:
            self._log.close()


def start_lab(root: Path, home: Path, log: Path, first_url: str = "lab") -> Server:
    """JupyterLab on ``root`` with a random token, up and answering; ``server.base`` and ``.token``."""
    import secrets

    port, token = free_port(), secrets.token_hex(16)
    settings = lab_settings(home)
    server = Server(
        [str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.allow_root=True",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.news_url=None"],
        isolated_env(home), log, f"http://127.0.0.1:{port}/{first_url}?token={token}")
    server.base, server.token = f"http://127.0.0.1:{port}", token
    try:
        server.wait_until_up(f"{server.base}/api/status?token={token}")
    except BaseException:
        server.stop()
        raise
    return server
