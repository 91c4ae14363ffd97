"""One student of the classroom load test, as a browser would act for them.

Every request goes to the hub's public address, so through
configurable-http-proxy: the hub's login form, the hub's REST API for a token
and a server, then the student's own Jupyter server for nbgitpuller, the
contents API, a kernel session and the kernel's websocket.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import requests
import websocket

HTTP_TIMEOUT = 60  # seconds for one HTTP request on a loaded machine


class StudentError(RuntimeError):
    """A step of one student failed; the message names the student and the step."""


@dataclass
class CellResult:
    """One code cell as the student's kernel ran it."""

    index: int  # the cell's position in the notebook, from 0
    first_line: str
    status: str  # execute_reply's status: "ok", "error" or "aborted"
    errors: list[str] = field(default_factory=list)  # error outputs and stderr text
    seconds: float = 0.0


def first_line(source: str) -> str:
    """The first non-blank, non-comment line of a cell, cut to 60 characters.

    Examples
    --------
    >>> first_line("# a comment\\n\\nlr = 0.001\\nn = 3")
    'lr = 0.001'
    >>> first_line("# only a comment")
    '# only a comment'
    """
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    code = [line for line in lines if not line.startswith("#")]
    return ((code or lines or [""])[0])[:60]


def code_cells(notebook: dict) -> list[tuple[int, str]]:
    """(position in the notebook, source) of every code cell, in order.

    Examples
    --------
    >>> nb = {"cells": [{"cell_type": "markdown", "source": "# Title"},
    ...                 {"cell_type": "code", "source": ["x = 1\\n", "x"]}]}
    >>> code_cells(nb)
    [(1, 'x = 1\\nx')]
    """
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            source = cell["source"]
            cells.append((index, source if isinstance(source, str) else "".join(source)))
    return cells


class Student:
    """A student: a name, a password, and the hub's public URL (no trailing slash)."""

    def __init__(self, name: str, password: str, hub_url: str):
        self.name, self.password, self.hub_url = name, password, hub_url
        self.http = requests.Session()
        self.token: str | None = None
        self.user_url = f"{hub_url}/user/{quote(name)}"
        self.kernel_id: str | None = None
        self.session_id: str | None = None
        self._ws: websocket.WebSocket | None = None
        self._session = uuid.uuid4().hex

    def _fail(self, step: str, answer: requests.Response | None = None, detail: str = ""):
        if answer is not None:
            detail = f"HTTP {answer.status_code} from {answer.request.method} {answer.url}: " \
                     f"{answer.text[:300]}"
        raise StudentError(f"{self.name}: {step} failed: {detail}")

    def _api(self, method: str, url: str, step: str, ok=(200,), **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        answer = self.http.request(method, url, headers=headers, timeout=HTTP_TIMEOUT, **kwargs)
        if answer.status_code not in ok:
            self._fail(step, answer)
        return answer

    def _xsrf(self) -> str:
        values = [cookie.value for cookie in self.http.cookies if cookie.name == "_xsrf"]
        if not values:
            self._fail("log in", detail="the hub set no _xsrf cookie")
        return values[-1]

    # -- the hub ---------------------------------------------------------------
    def log_in(self) -> None:
        """Fill in the hub's login form, as a browser does (its _xsrf included)."""
        self._api("GET", f"{self.hub_url}/hub/login", "open the login page")
        answer = self._api("POST", f"{self.hub_url}/hub/login", "log in", ok=(302,),
                           data={"username": self.name, "password": self.password,
                                 "_xsrf": self._xsrf()},
                           allow_redirects=False)
        if not any(c.name.startswith("jupyterhub-session-id") or c.name == "jupyterhub-hub-login"
                   for c in self.http.cookies):
            self._fail("log in", answer)

    def request_token(self) -> None:
        """Ask the hub's API for a token of one's own, logged in by the cookie."""
        self._api("GET", f"{self.hub_url}/hub/token", "open the token page")
        answer = self._api("POST", f"{self.hub_url}/hub/api/users/{quote(self.name)}/tokens",
                           "request a token", ok=(200, 201),
                           headers={"X-XSRFToken": self._xsrf()},
                           json={"note": "classroom-check", "expires_in": 3600})
        self.token = answer.json()["token"]

    def start_server(self, timeout: float) -> None:
        """POST .../server, then wait until the hub reports it ready."""
        users = f"{self.hub_url}/hub/api/users/{quote(self.name)}"
        self._api("POST", f"{users}/server", "start the server", ok=(201, 202))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self._api("GET", users, "ask for the server").json()["servers"].get("")
            if server and server.get("ready"):
                return
            if not server or not server.get("pending"):
                self._fail("start the server", detail=f"the hub reports the server as {server}")
            time.sleep(0.5)
        self._fail("start the server", detail=f"not ready after {timeout:.0f} s")

    def stop_server(self) -> None:
        self._api("DELETE", f"{self.hub_url}/hub/api/users/{quote(self.name)}/server",
                  "stop the server", ok=(202, 204))

    # -- the student's server --------------------------------------------------
    def pull(self, repo: str, targetpath: str) -> list[str]:
        """Pull the series with nbgitpuller's own API (what a nbgitpuller link opens)."""
        query = urlencode({"repo": repo, "targetpath": targetpath})
        answer = self._api("GET", f"{self.user_url}/git-pull/api?{query}", "pull the series",
                           stream=True)
        lines = []
        for raw in answer.iter_lines(decode_unicode=True):
            if not raw or not raw.startswith("data:"):
                continue
            event = json.loads(raw[len("data:"):])
            if "output" in event:
                lines.append(event["output"].rstrip())
            if event.get("phase") == "error":
                self._fail("pull the series with nbgitpuller",
                           detail=f"{event.get('message')}\n" + "\n".join(lines[-10:]))
            if event.get("phase") == "finished":
                return lines
        self._fail("pull the series with nbgitpuller", detail="the stream ended without 'finished'")

    def read_notebook(self, path: str) -> dict:
        """A notebook of the student's home, through the contents API."""
        answer = self._api("GET", f"{self.user_url}/api/contents/{quote(path)}?content=1",
                           f"read {path}")
        return answer.json()["content"]

    def open_notebook(self, path: str, timeout: float) -> None:
        """A kernel session for the notebook, its websocket, and a kernel that answers."""
        answer = self._api("POST", f"{self.user_url}/api/sessions", f"open {path}",
                           ok=(200, 201),
                           json={"path": path, "type": "notebook", "name": path.split("/")[-1],
                                 "kernel": {"name": "python3"}})
        session = answer.json()
        self.session_id, self.kernel_id = session["id"], session["kernel"]["id"]
        ws_url = self.user_url.replace("http", "ws", 1) + \
            f"/api/kernels/{self.kernel_id}/channels?session_id={self._session}"
        try:
            self._ws = websocket.create_connection(
                ws_url, header=[f"Authorization: token {self.token}"], timeout=timeout)
        except (OSError, websocket.WebSocketException) as err:
            self._fail(f"open the kernel's websocket for {path}", detail=repr(err))
        reply = self._request("kernel_info_request", {}, timeout)
        if reply["shell"] is None:
            self._fail(f"start a kernel for {path}", detail=f"no kernel_info_reply in {timeout:.0f} s")

    def run_cell(self, index: int, source: str, timeout: float) -> CellResult:
        """Execute one cell and collect its reply, error outputs and stderr."""
        start = time.perf_counter()
        reply = self._request("execute_request",
                              {"code": source, "silent": False, "store_history": True,
                               "user_expressions": {}, "allow_stdin": False,
                               "stop_on_error": True}, timeout)
        result = CellResult(index, first_line(source), "timeout",
                            seconds=time.perf_counter() - start)
        for msg in reply["iopub"]:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error":
                result.errors.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "stream" and content.get("name") == "stderr":
                result.errors.append(f"stderr: {content['text'].strip()[:300]}")
        if reply["shell"] is not None:
            result.status = reply["shell"]["content"]["status"]
        else:
            result.errors.append(f"no execute_reply within {timeout:.0f} s")
        return result

    def close_notebook(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self.session_id:
            self._api("DELETE", f"{self.user_url}/api/sessions/{self.session_id}",
                      "close the notebook", ok=(204,))
            self.session_id = self.kernel_id = None

    def _request(self, msg_type: str, content: dict, timeout: float) -> dict:
        """Send a shell request; gather its iopub messages until idle and its reply."""
        msg_id = uuid.uuid4().hex
        self._ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "username": self.name,
                       "session": self._session, "version": "5.3",
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "content": content,
            "channel": "shell", "buffers": []}))
        shell, iopub, idle = None, [], False
        deadline = time.monotonic() + timeout
        while (shell is None or not idle) and time.monotonic() < deadline:
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                frame = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            if isinstance(frame, bytes):  # a message with binary buffers: never a reply
                continue
            msg = json.loads(frame)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell":
                shell = msg
            elif msg["channel"] == "iopub":
                if msg["msg_type"] == "status":
                    idle = msg["content"]["execution_state"] == "idle"
                else:
                    iopub.append(msg)
        return {"shell": shell, "iopub": iopub}


def all_students_ready(barrier: threading.Barrier, timeout: float) -> None:
    """Wait for every student at ``barrier``; a broken barrier means another one failed."""
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        raise StudentError("another student failed before the notebook started") from None
