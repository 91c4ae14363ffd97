"""JupyterHub configuration for a class on one server (docs/classroom.md).

    jupyterhub -f scripts/classroom/jupyterhub_config.py

Run it with the jupyterhub of the environment scripts/classroom/setup.sh
builds: every student's server starts from that environment, so students run
the series' pinned stack.

Part 1, the class, is what `make classroom-check` runs: a server per student
that opens JupyterLab, one PyTorch thread per kernel, the idle culler.

Part 2, the school's, is what the load test replaces: a real authenticator
(NativeAuthenticator: students sign up, the teacher approves them), a spawner
that enforces a memory limit per student (SystemdSpawner), HTTPS. Edit the
names and paths marked EDIT. When MFGD_CLASSROOM_TEST names a JSON file
(scripts/classroom/classroom_check.py writes it), its stand-ins are used
instead: SharedPasswordAuthenticator (one password for every student),
SimpleLocalProcessSpawner with homes in a temporary folder (every server runs
as the hub's own user), plain HTTP on 127.0.0.1. None of them is safe for a
class.
"""

import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

BIN = Path(sys.prefix) / "bin"

# ---- 1. The class -------------------------------------------------------------
# The students' servers run the hub's own environment, JupyterLab first.
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
# One PyTorch thread per kernel: with more students than cores, a kernel's
# extra threads would only compete with the other students' kernels. (The
# series' small matrices gain nothing from more; `make classroom-check
# CLASSROOM_ARGS="--threads 2"` measures it.)
c.Spawner.environment = {"OMP_NUM_THREADS": "1"}
# A loaded machine starts many servers at once (the start of a lesson).
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy")]

# A server idle for an hour is stopped; the student's files stay in the home
# folder and the next login starts a new server. Inside a server, binder/postBuild's
# settings (installed by setup.sh) stop a kernel idle for 20 minutes and the
# kernel of a closed tab.
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]

# ---- 2. The school's: authentication, limits, HTTPS ----------------------------
TEST = os.environ.get("MFGD_CLASSROOM_TEST")
if not TEST:
    import nativeauthenticator

    # Students sign up at /hub/signup; the teacher (an admin, who signs up
    # first with this name) approves each one at /hub/authorize.
    c.JupyterHub.authenticator_class = "native"
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
    c.Authenticator.admin_users = {"teacher"}  # EDIT: the teacher's user name
    c.NativeAuthenticator.allow_all = True  # NativeAuthenticator checks the approval itself
    c.NativeAuthenticator.minimum_password_length = 10

    # A systemd unit per student: its own Unix user (DynamicUser=) with a home
    # in /var/lib/<name>, and limits the kernel enforces (MemoryMax=, CPUQuota=).
    # The plain LocalProcessSpawner ignores mem_limit and cpu_limit.
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.dynamic_users = True
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.isolate_devices = True
    c.Spawner.mem_limit = "2G"  # docs/classroom.md, "Sizing", says why
    c.Spawner.cpu_limit = 1.0

    # HTTPS on port 443 (EDIT: the certificate of the hub's name), or leave
    # these out and put the hub behind a reverse proxy that serves HTTPS.
    c.JupyterHub.bind_url = "https://:443"
    c.JupyterHub.ssl_cert = "/etc/letsencrypt/live/hub.example.edu/fullchain.pem"
    c.JupyterHub.ssl_key = "/etc/letsencrypt/live/hub.example.edu/privkey.pem"
    c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
else:
    test = json.loads(Path(TEST).read_text())
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = test["password"]
    c.Authenticator.allow_all = True
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(Path(test["homes"]) / "{username}")
    if os.geteuid() == 0:  # the test may run as root; a real hub's students never do
        c.Spawner.args = ["--ServerApp.allow_root=True"]
    c.Spawner.environment.update(test.get("environment", {}))
    c.JupyterHub.bind_url = f"http://127.0.0.1:{test['port']}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{test['hub_port']}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{test['proxy_api_port']}"
    c.JupyterHub.db_url = f"sqlite:///{Path(test['state']) / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(Path(test["state"]) / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(Path(test["state"]) / "jupyterhub.pid")
    # The load test's own service: it lists the servers and stops what is left.
    c.JupyterHub.services.append({"name": "classroom-check", "api_token": test["token"]})
    c.JupyterHub.load_roles.append({
        "name": "classroom-check",
        "scopes": ["list:users", "read:users", "read:servers", "delete:servers"],
        "services": ["classroom-check"],
    })
