"""Jupyter Server configuration behind `make voila`: the playground as an app.

    jupyter server --config=scripts/voila_server_config.py

Voila's own server (``voila notebook.ipynb``) has no token by default and
accepts any Host header, and every page load starts a kernel that nothing
stops. Served as an extension of Jupyter Server instead, the playground gets:

- token authentication, as ``make lab`` has: open the URL with ``?token=...``
  that the server prints;
- Jupyter Server's Host check: on 127.0.0.1 a request whose Host header is not
  a local name is refused (403), which defeats DNS rebinding;
- at most ``CappedKernelManager.max_kernels`` kernels (4 by default; each holds
  about 300 MiB): one more page load gets "503 Service Unavailable" and a
  message instead of a new kernel;
- a kernel whose page is closed is shut down after 10 idle minutes.

Override any of these on the command line, for example
``--CappedKernelManager.max_kernels=8`` or ``--port=8890``.
"""

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer


class CappedKernelManager(AsyncMappingKernelManager):
    """A kernel manager that refuses to start more than ``max_kernels`` kernels."""

    max_kernels = Integer(4, config=True, help="Most kernels running at once.")

    async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        running = len(self.list_kernel_ids())
        if kernel_id is None and running >= self.max_kernels:
            raise web.HTTPError(
                503, f"refused a kernel: {running} running, max_kernels={self.max_kernels}",
                reason=f"{running} playground sessions are running, the most this server "
                "allows. Close another tab and reload, or wait: a closed page's kernel "
                "stops after 10 idle minutes")
        return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)


c = get_config()  # noqa: F821  (provided by Jupyter when it loads this file)
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.ServerApp.root_dir = "notebooks"
c.ServerApp.default_url = "/voila/render/05_playground.ipynb"
c.ServerApp.terminals_enabled = False
c.ServerApp.kernel_manager_class = CappedKernelManager
c.MappingKernelManager.cull_idle_timeout = 600
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = False  # an open page keeps its kernel
c.VoilaConfiguration.show_tracebacks = False
