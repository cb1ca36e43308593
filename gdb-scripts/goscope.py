"""Load goscope into GDB:  (gdb) source /path/to/goscope/gdb-scripts/goscope.py

Finds the goscope package -- installed for GDB's Python, or built into this checkout's
build/site by scripts/setup (or the directory named by the GOSCOPE_SITE environment
variable) -- and loads it with the package's own loader, ``goscope/gdbinit.py``. On failure it
prints one line saying what to do. Sourcing it again is harmless.
"""

from __future__ import annotations


def _goscope_load() -> None:
    import importlib.util
    import os
    import runpy

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
    site_dir: str | None = None
    if override:
        # Only the named directory: goscope must come from there or not at all.
        site_dir = os.path.abspath(override)
        if not os.path.isfile(os.path.join(site_dir, "goscope", "__init__.py")):
            fail(f"native module not built: no goscope package in GOSCOPE_SITE={site_dir}")
            return
    elif importlib.util.find_spec("goscope") is None:
        site_dir = os.path.join(checkout, "build", "site")
        if not os.path.isfile(os.path.join(site_dir, "goscope", "__init__.py")):
            fail(f"native module not built: no goscope package in {site_dir}")
            return
    # The loader of this checkout's sources, else the installed package's.
    loader = os.path.join(checkout, "python", "goscope", "gdbinit.py")
    if not os.path.isfile(loader):
        spec = importlib.util.find_spec("goscope")
        origin = spec.origin if spec is not None else None
        loader = os.path.join(os.path.dirname(origin or ""), "gdbinit.py")
    if not os.path.isfile(loader):
        fail("no goscope/gdbinit.py next to the goscope package")
        return
    runpy.run_path(loader, run_name="goscope_gdbinit")["load"](site_dir, how_to_build)


_goscope_load()
del _goscope_load
