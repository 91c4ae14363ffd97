"""Load test of the classroom hub: N students log in and run a notebook at the same time.

    VENV/bin/python scripts/classroom/classroom_check.py --students 10 --notebook 04_training_loop.ipynb

VENV is the environment scripts/classroom/setup.sh builds (`make classroom-check`
does both). Offline, on 127.0.0.1:

1. the series is cloned bare from this repository's HEAD (committed files
   only) into a temporary folder: the local git URL the students pull from;
2. JupyterHub starts with scripts/classroom/jupyterhub_config.py and its test
   stand-ins (SharedPasswordAuthenticator, SimpleLocalProcessSpawner with homes in the
   temporary folder) and starts configurable-http-proxy and the idle culler;
3. every student, in a thread of its own and all at once: fills in the login
   form, asks the hub's API for a token, starts a server and waits until the
   hub reports it ready, pulls the series with nbgitpuller's API, reads the
   notebook from the home copy through the contents API;
4. one student runs the notebook alone (the reference time), then every student
   opens it (a kernel session) and all run its code cells at the same moment,
   over the kernel's websocket through the proxy; every execute_reply must be
   "ok", with no error output and no stderr;
5. every student closes the notebook and stops the server through the API;
   then no server may be left, the idle culler must be running and the
   servers must have logged binder/'s kernel culling settings.

A thread samples the memory of the hub's process tree twice a second (RSS;
PSS, which splits shared pages among the processes that share them, every
other second) and credits each server and its kernels to its student.
The report gives the p50/p95 run time, the peak memory per student and in all,
the spawn time, and the students per core and per GB that a sizing table needs.

Whatever happens (a failure, Ctrl-C, SIGTERM), the hub is stopped and then
every process it started, found by a marker in their environment and by the
process tree seen while sampling, is ended. Exit status: 0 when every run
passed, 1 when one failed (the message names the student and the cell), 2 when
the environment is not ready.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.prefix) / "bin"
sys.path.insert(0, str(HERE))

try:
    import psutil
    import requests
    from load_report import ClassMeasures, StudentRecord, format_report
    from school_settings import check_school_settings
    from student_client import Student, StudentError, all_students_ready, code_cells
except ImportError as err:
    sys.exit(f"classroom_check.py: {err}. Run it with the Python of the classroom venv: "
             "bash scripts/classroom/setup.sh /tmp/mfgd-classroom, then "
             "/tmp/mfgd-classroom/bin/python scripts/classroom/classroom_check.py")

RUN_MARKER = "MFGD_CLASSROOM_RUN"
TARGET = "mfgd"  # the series' folder in every home


def say(start: float, text: str) -> None:
    print(f"[{time.monotonic() - start:5.0f}s] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    """JupyterHub with the classroom configuration and the test's stand-ins."""

    def __init__(self, workdir: Path, threads: str | None):
        self.state = workdir / "hub"
        self.state.mkdir()
        self.homes = workdir / "homes"
        self.run_id = secrets.token_hex(8)
        self.token = secrets.token_hex(32)
        self.password = secrets.token_hex(12)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {RUN_MARKER: self.run_id}
        if threads is not None:
            environment["OMP_NUM_THREADS"] = threads
        settings = {"password": self.password, "token": self.token, "homes": str(self.homes),
                    "state": str(self.state), "port": self.port, "hub_port": free_port(),
                    "proxy_api_port": free_port(), "environment": environment}
        settings_file = self.state / "test.json"
        settings_file.touch(mode=0o600)
        settings_file.write_text(json.dumps(settings))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "IPYTHON", "OMP_", "MKL_"))}
        env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                    "MFGD_CLASSROOM_TEST": str(settings_file), RUN_MARKER: self.run_id})
        self.log_path = workdir / "hub.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
            cwd=self.state, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, path: str, method: str = "GET"):
        answer = requests.request(method, f"{self.url}/hub/api{path}", timeout=30,
                                  headers={"Authorization": f"token {self.token}"})
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    self.api("/users")  # the hub and the proxy's route to it
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"jupyterhub did not answer in {timeout:.0f} s:\n" + self.log_tail())

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM: the hub stops the servers and the proxy it started; then SIGKILL."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
        finally:
            self._log.close()


class Memory(threading.Thread):
    """Samples the hub's process tree and credits each server's tree to its user."""

    def __init__(self, hub_pid: int, interval: float = 0.5, pss_every: int = 4):
        super().__init__(daemon=True)
        self.hub = psutil.Process(hub_pid)
        self.interval, self.pss_every = interval, pss_every
        self.seen: dict[int, float] = {}  # pid -> create_time, for the final sweep
        self.peak_rss: dict[str, int] = {}
        self.peak_pss: dict[str, int] = {}
        self.overhead_peak_rss = self.total_peak_rss = self.total_peak_pss = 0
        self.server_peak_rss = 0  # the largest Jupyter server of a student, kernels left out
        self.baseline_available = psutil.virtual_memory().available
        self.machine_rise = 0
        self.error: str | None = None
        self._users: dict[tuple[int, float], str | None] = {}
        self._halt = threading.Event()

    def _user(self, proc) -> str | None:
        """The student whose server ``proc`` is, or None (the proxy, the culler).

        Only a name is remembered: a server caught between fork and exec still
        has the hub's environment, without JUPYTERHUB_USER.
        """
        key = (proc.pid, proc.create_time())
        if key not in self._users:
            try:
                user = proc.environ().get("JUPYTERHUB_USER")
            except psutil.Error:
                return None
            if user is None:
                return None
            self._users[key] = user
        return self._users[key]

    def sample(self, with_pss: bool) -> None:
        rss: dict[str | None, int] = {}
        pss: dict[str | None, int] = {}
        try:
            top = [(self.hub, None)] + [(child, self._user(child)) for child in self.hub.children()]
        except psutil.Error:
            return
        for proc, user in top:
            try:
                tree = [proc] if proc is self.hub else [proc] + proc.children(recursive=True)
            except psutil.Error:  # the server stopped since the hub's children were listed
                continue
            for p in tree:
                try:
                    self.seen.setdefault(p.pid, p.create_time())
                    if with_pss:
                        info = p.memory_full_info()
                        pss[user] = pss.get(user, 0) + info.pss
                        rss[user] = rss.get(user, 0) + info.rss
                    else:
                        rss[user] = rss.get(user, 0) + p.memory_info().rss
                    if p is proc and user is not None:  # a student's server, without kernels
                        self.server_peak_rss = max(self.server_peak_rss, p.memory_info().rss)
                except psutil.Error:
                    continue
        for user, value in rss.items():
            if user is None:
                self.overhead_peak_rss = max(self.overhead_peak_rss, value)
            else:
                self.peak_rss[user] = max(self.peak_rss.get(user, 0), value)
        for user, value in pss.items():
            if user is not None:
                self.peak_pss[user] = max(self.peak_pss.get(user, 0), value)
        self.total_peak_rss = max(self.total_peak_rss, sum(rss.values()))
        self.total_peak_pss = max(self.total_peak_pss, sum(pss.values()))
        used = self.baseline_available - psutil.virtual_memory().available
        self.machine_rise = max(self.machine_rise, used)

    def run(self) -> None:
        n = 0
        while not self._halt.wait(self.interval):
            try:
                self.sample(with_pss=n % self.pss_every == 0)
            except psutil.Error:  # a process ended mid-sample: the next sample counts it
                pass
            except Exception as err:  # noqa: BLE001  (reported as a failure of the test)
                self.error = f"the memory sampler stopped after {n} samples: {err!r}"
                return
            n += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def kernel_process(hub_pid: int, user: str, kernel_id: str):
    """The kernel process of ``kernel_id`` in ``user``'s server, or None."""
    try:
        for server in psutil.Process(hub_pid).children():
            if server.environ().get("JUPYTERHUB_USER") != user:
                continue
            for child in server.children(recursive=True):
                if any(kernel_id in arg for arg in child.cmdline()):
                    return child
    except psutil.Error:
        pass
    return None


def cpu_seconds(proc) -> float:
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def sweep(run_id: str, seen: dict[int, float]) -> list[str]:
    """End every process of this run still alive: marked in its environment, or seen
    in the hub's tree (same pid and start time). Returns what it had to end."""
    left = []
    for proc in psutil.process_iter(["pid", "create_time", "cmdline"]):
        if proc.pid == os.getpid():
            continue
        try:
            marked = proc.environ().get(RUN_MARKER) == run_id
        except psutil.Error:
            marked = False
        if marked or seen.get(proc.pid) == proc.info["create_time"]:
            left.append(proc)
    for proc in left:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    gone, alive = psutil.wait_procs(left, timeout=10)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return [f"{p.pid} {' '.join((p.info['cmdline'] or [])[:3])}" for p in left]


def run_cells(student: Student, cells, notebook: str, timeout: float) -> None:
    """Every code cell in order; the first failing one raises, naming student and cell."""
    for index, source in cells:
        result = student.run_cell(index, source, timeout)
        if result.status != "ok" or result.errors:
            raise StudentError(
                f"{student.name}: cell {index + 1} of {notebook} ({result.first_line!r}) "
                f"failed, status {result.status!r}: " + " | ".join(result.errors))


def student_thread(student: Student, record: StudentRecord, *, repo: str, notebook_path: str,
                   ready: threading.Barrier, opened: threading.Barrier, go: threading.Barrier,
                   hub_pid: int, spawn_times: dict, args) -> None:
    """One student from login to stopped server; a failure breaks the barriers for all."""
    def timed(phase, fn, *a):
        t = time.perf_counter()
        value = fn(*a)
        record.seconds[phase] = time.perf_counter() - t
        return value

    try:
        timed("login", lambda: (student.log_in(), student.request_token()))
        spawn_times[student.name] = [time.monotonic()]
        timed("spawn", student.start_server, args.spawn_timeout)
        spawn_times[student.name].append(time.monotonic())
        timed("pull", student.pull, repo, TARGET)
        cells = code_cells(student.read_notebook(notebook_path))
        if not cells:
            raise StudentError(f"{student.name}: {notebook_path} in the home copy has no code cell")
        all_students_ready(ready, args.spawn_timeout + 600)
        all_students_ready(opened, 1800)  # the solo run happens here
        timed("kernel", student.open_notebook, notebook_path, args.spawn_timeout)
        kernel = kernel_process(hub_pid, student.name, student.kernel_id)
        all_students_ready(go, 600)
        cpu_before = cpu_seconds(kernel) if kernel else None
        timed("run", run_cells, student, cells, notebook_path, args.cell_timeout)
        if kernel is not None:
            record.run_cpu_seconds = cpu_seconds(kernel) - cpu_before
        student.close_notebook()
        student.stop_server()
    except Exception as err:  # noqa: BLE001  (any failure is this student's; report it)
        record.failure = str(err) if isinstance(err, StudentError) else \
            f"{student.name}: {type(err).__name__}: {err}"
        for barrier in (ready, opened, go):
            barrier.abort()
        if student.token:  # leave nothing running, as a student closing the tab would
            try:
                student.close_notebook()
            except Exception:  # noqa: BLE001  (the failure above is the one to report)
                pass
            try:
                student.stop_server()
            except Exception:  # noqa: BLE001
                pass


def solo_run(student: Student, notebook_path: str, hub_pid: int, args) -> tuple[float, float]:
    """The notebook run by one student while every other server idles: wall and CPU seconds."""
    cells = code_cells(student.read_notebook(notebook_path))
    student.open_notebook(notebook_path, args.spawn_timeout)
    kernel = kernel_process(hub_pid, student.name, student.kernel_id)
    if kernel is None:
        raise StudentError(f"{student.name}: no kernel process of {student.kernel_id} "
                           "under the student's server")
    start, cpu = time.perf_counter(), cpu_seconds(kernel)
    run_cells(student, cells, notebook_path, args.cell_timeout)
    seconds, cpu = time.perf_counter() - start, cpu_seconds(kernel) - cpu
    student.close_notebook()
    return seconds, cpu


def settings_in_force(hub: Hub) -> list[str]:
    """What part 1 of the configuration promises and the running hub must show:
    the idle culler runs, and the students' servers cull kernels as binder/ says."""
    problems = []
    try:
        running = any("jupyterhub_idle_culler" in " ".join(child.cmdline())
                      for child in psutil.Process(hub.proc.pid).children())
    except psutil.Error:
        running = False
    if not running:
        problems.append("the idle culler service is not running under the hub")
    culler = json.loads((ROOT / "binder" / "jupyter_server_config.json").read_text())
    timeout = culler["MappingKernelManager"]["cull_idle_timeout"]
    line = f"Culling kernels with idle durations > {timeout} seconds"
    if line not in hub.log_tail(lines=10**6):
        problems.append(f"no student's server logged {line!r}: binder/postBuild's kernel "
                        f"settings are not in force (run scripts/classroom/setup.sh)")
    return problems


def bare_clone(workdir: Path, notebook: str) -> tuple[str, str]:
    """A bare clone of this repository's HEAD: (file:// URL, commit)."""
    try:
        subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"HEAD:notebooks/{notebook}"],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError:
        sys.exit(f"classroom_check.py: --notebook {notebook!r}: HEAD of {ROOT} has no "
                 f"notebooks/{notebook}; name a committed notebook, e.g. 04_training_loop.ipynb")
    target = workdir / "series" / "mfgd.git"
    subprocess.run(["git", "clone", "--bare", "--quiet", str(ROOT), str(target)], check=True)
    commit = subprocess.run(["git", "-C", str(target), "rev-parse", "--short", "HEAD"],
                            check=True, capture_output=True, text=True).stdout.strip()
    return f"file://{target}", commit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=10, help="simulated students (default 10)")
    parser.add_argument("--notebook", default="04_training_loop.ipynb",
                        help="a notebook of notebooks/ (default 04_training_loop.ipynb)")
    parser.add_argument("--threads", default=None,
                        help="OMP_NUM_THREADS for the students' kernels (default: the hub "
                             "configuration's, 1)")
    parser.add_argument("--cell-timeout", type=float, default=900, help="seconds per cell")
    parser.add_argument("--spawn-timeout", type=float, default=300,
                        help="seconds for a server to become ready")
    parser.add_argument("--no-solo", action="store_true",
                        help="skip the run alone (and the sizing figures that need it)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error(f"--students {args.students}: must be at least 1")
    if args.threads is not None and not (args.threads.isdigit() and int(args.threads) >= 1):
        parser.error(f"--threads {args.threads!r}: must be a whole number >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    for tool in ("jupyterhub", "jupyterhub-singleuser", "configurable-http-proxy"):
        if not (BIN / tool).exists():
            print(f"classroom_check.py: {BIN / tool} is missing; run "
                  f"bash scripts/classroom/setup.sh {sys.prefix} first", file=sys.stderr)
            return 2
    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="mfgd-classroom-run."))
    hub = memory = None
    records = [StudentRecord(f"student{i:02d}") for i in range(1, args.students + 1)]
    failed = True

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_sigterm)

    try:
        try:
            say(start, check_school_settings(HERE / "jupyterhub_config.py"))
        except ValueError as err:
            print(f"classroom_check.py: scripts/classroom/jupyterhub_config.py: {err}",
                  file=sys.stderr)
            return 1
        repo, commit = bare_clone(workdir, args.notebook)
        say(start, f"series: {repo} (commit {commit} of {ROOT}; uncommitted changes are not in it)")
        say(start, f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
        hub = Hub(workdir, args.threads)
        hub.wait_until_up(120)
        hub_up = time.monotonic() - start
        say(start, f"hub up at {hub.url} with configurable-http-proxy and the idle culler")
        memory = Memory(hub.proc.pid)
        memory.start()

        notebook_path = f"{TARGET}/notebooks/{args.notebook}"
        students = [Student(r.name, hub.password, hub.url) for r in records]
        parties = args.students + 1  # the students and this thread
        ready, opened, go = (threading.Barrier(parties) for _ in range(3))
        spawn_times: dict[str, list[float]] = {}
        threads = [threading.Thread(target=student_thread, daemon=True, name=s.name,
                                    args=(s, r), kwargs=dict(
                                        repo=repo, notebook_path=notebook_path, ready=ready,
                                        opened=opened, go=go, hub_pid=hub.proc.pid,
                                        spawn_times=spawn_times, args=args))
                   for s, r in zip(students, records)]
        for t in threads:
            t.start()
        say(start, f"{args.students} students log in, start their servers and pull the series")
        solo = solo_cpu = None
        spawn_all = float("nan")
        problems: list[str] = []
        try:
            ready.wait(args.spawn_timeout + 600)
            spawn_all = max(t[1] for t in spawn_times.values()) - min(t[0] for t in spawn_times.values())
            say(start, f"every server ready ({spawn_all:.1f} s after the first start request)")
            if not args.no_solo:
                solo, solo_cpu = solo_run(students[0], notebook_path, hub.proc.pid, args)
                say(start, f"{students[0].name} ran {args.notebook} alone in {solo:.1f} s")
            opened.wait(1800)
            say(start, f"every student opens {args.notebook}")
            go.wait(600)
            say(start, f"every student runs {args.notebook}, all at once")
        except threading.BrokenBarrierError:
            pass
        except Exception as err:  # the solo run failed: stop every student
            for barrier in (ready, opened, go):
                barrier.abort()
            problems.append(str(err) if isinstance(err, StudentError)
                            else f"the run alone: {type(err).__name__}: {err}")
        for t in threads:
            while t.is_alive():
                t.join(1)
        memory.stop()
        if memory.error:
            problems.append(memory.error)
        problems += settings_in_force(hub)
        leftover = [u["name"] for u in hub.api("/users?state=active")]
        if leftover:
            problems.append(f"servers still running after every student stopped theirs: {leftover}")
        for r in records:
            r.peak_rss = memory.peak_rss.get(r.name, 0)
            r.peak_pss = memory.peak_pss.get(r.name, 0)
        print()
        print(format_report(records, ClassMeasures(
            args.notebook, cores=os.cpu_count(), threads=args.threads or "1 (hub configuration)",
            hub_up=hub_up, spawn_all=spawn_all, solo_seconds=solo, solo_cpu_seconds=solo_cpu,
            server_peak_rss=memory.server_peak_rss,
            overhead_peak_rss=memory.overhead_peak_rss, total_peak_rss=memory.total_peak_rss,
            total_peak_pss=memory.total_peak_pss, machine_rise=memory.machine_rise,
            wall=time.monotonic() - start)), flush=True)
        failures = problems + [r.failure for r in records if r.failure]
        # a student stopped by another's failure only says so; name the first causes
        causes = [f for f in failures if "another student failed" not in f] or failures
        if causes:
            print("\nFAILED:", file=sys.stderr)
            for failure in causes:
                print(f"  {failure}", file=sys.stderr)
            print(f"\nhub log ({hub.log_path}), last lines:\n{hub.log_tail()}", file=sys.stderr)
            return 1
        failed = False
        return 0
    except KeyboardInterrupt:
        print("\nclassroom_check.py: interrupted; stopping the hub and everything it started",
              file=sys.stderr)
        return 130
    finally:
        seen: dict[int, float] = {}
        if memory is not None:
            memory.stop()
            seen = memory.seen
        if hub is not None:
            hub.stop()
            left = sweep(hub.run_id, seen)
            say(start, "hub stopped; " + (f"ended {len(left)} processes it left: {left}" if left
                                          else "no process of this run is left"))
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        say(start, f"load: {load} (1, 5, 15 min)")
        if args.keep or failed:
            say(start, f"kept {workdir} (hub.log, the homes)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
