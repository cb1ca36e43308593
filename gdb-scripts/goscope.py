"""Load goscope into GDB:  (gdb) source /path/to/goscope/gdb-scripts/goscope.py

Finds the goscope package -- installed for GDB's Python, or built into this checkout's
build/site by scripts/setup (or the directory named by the GOSCOPE_SITE environment
variable) -- and registers the `go` commands. On failure it prints one line saying what
to do. Sourcing it again is harmless.
"""

from __future__ import annotations


def _goscope_load() -> None:
    import importlib
    import importlib.util
    import os
    import site
    import sys

    here = os.path.dirname(os.path.realpath(__file__))
    checkout = os.path.dirname(here)
    setup = os.path.join(checkout, "scripts", "setup")
    if os.path.exists(setup):
        how_to_build = f"run {setup}"
    else:
        how_to_build = "install goscope for GDB's Python"

    def fail(reason: str) -> None:
        print(f"goscope: {reason} \N{EM DASH} {how_to_build}")

    override = os.environ.get("GOSCOPE_SITE")
    if override:
        # Only the named directory: goscope must come from there or not at all.
        site_dir = os.path.abspath(override)
        if not os.path.isfile(os.path.join(site_dir, "goscope", "__init__.py")):
            fail(f"native module not built: no goscope package in GOSCOPE_SITE={site_dir}")
            return
        if site_dir not in sys.path:
            sys.path.insert(0, site_dir)
    elif importlib.util.find_spec("goscope") is None:
        site_dir = os.path.join(checkout, "build", "site")
        if not os.path.isfile(os.path.join(site_dir, "goscope", "__init__.py")):
            fail(f"native module not built: no goscope package in {site_dir}")
            return
        site.addsitedir(site_dir)

    try:
        importlib.import_module("goscope._native")
    except ImportError as error:
        fail(f"native module cannot be loaded ({error})")
        return
    except Exception as error:  # a broken build must not leave a traceback in GDB
        fail(f"native module failed to load ({type(error).__name__}: {error})")
        return

    try:
        goscope_gdb = importlib.import_module("goscope.gdb")
        goscope_gdb.register()
    except Exception as error:
        print(f"goscope: could not register the GDB commands ({type(error).__name__}: {error})")
        return


_goscope_load()
del _goscope_load
