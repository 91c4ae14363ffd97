"""The school's part of jupyterhub_config.py, checked without running it.

The load test runs the hub with its stand-ins; the settings it replaces
(NativeAuthenticator, SystemdSpawner, HTTPS) need systemd, a certificate and
port 443. This loads the configuration as the real hub would (without
MFGD_CLASSROOM_TEST), resolves the authenticator and spawner classes it names,
and checks that every setting is a configurable trait of one of the classes the
hub uses, with a value that trait accepts, in the pinned releases.
"""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import HasTraits
from traitlets.config.loader import PyFileConfigLoader


def check_school_settings(config_file: Path) -> str:
    """Load ``config_file`` without the test's stand-ins and check every setting.

    Returns a one-line summary; raises ValueError naming the first setting that
    is no trait of the hub's classes or whose value the trait refuses.
    """
    from jupyterhub.app import JupyterHub
    from jupyterhub.proxy import ConfigurableHTTPProxy

    saved = os.environ.pop("MFGD_CLASSROOM_TEST", None)
    try:
        config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    finally:
        if saved is not None:
            os.environ["MFGD_CLASSROOM_TEST"] = saved
    hub = config.get("JupyterHub", {})
    traits = JupyterHub.class_traits()
    named = {}
    for key in ("authenticator_class", "spawner_class"):
        try:
            named[key] = traits[key].validate(None, hub.get(key))
        except Exception as err:  # noqa: BLE001  (an import error inside a TraitError)
            raise ValueError(f"c.JupyterHub.{key} == {hub.get(key)!r} cannot be loaded: {err}; "
                             "is its package in scripts/classroom/requirements.txt?") from None
    authenticator, spawner = named["authenticator_class"], named["spawner_class"]
    classes = {}
    for cls in (JupyterHub, ConfigurableHTTPProxy, authenticator, spawner):
        for base in cls.mro():
            if hasattr(base, "class_traits"):
                classes.setdefault(base.__name__, base)
    probe = HasTraits()  # what a trait's validate() needs as its owner
    count = 0
    for section, settings in config.items():
        if section not in classes:
            raise ValueError(f"c.{section}: no class of this name among the hub's "
                             f"({authenticator.__name__}, {spawner.__name__}, JupyterHub, "
                             "ConfigurableHTTPProxy and their bases); check the spelling")
        configurable = classes[section].class_traits(config=True)
        for name, value in settings.items():
            if name not in configurable:
                raise ValueError(f"c.{section}.{name}: {section} has no setting {name!r} "
                                 f"in this release; check the spelling")
            try:
                configurable[name].validate(probe, value)
            except Exception as err:  # noqa: BLE001  (traitlets raises TraitError and others)
                raise ValueError(f"c.{section}.{name} == {value!r} is refused: {err}") from None
            count += 1
    return (f"{count} settings of the school's configuration exist in the pinned releases "
            f"(authenticator {authenticator.__name__}, spawner {spawner.__name__})")
