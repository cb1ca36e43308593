"""Loads goscope into GDB. An installed goscope:  (gdb) source .../site-packages/goscope/gdbinit.py

``goscope gdb-init`` prints that line for the installation it runs from; a checkout's
``gdb-scripts/goscope.py`` finds the package (its build, or one installed for GDB's Python)
and calls :func:`load` here too. GDB's embedded Python need not be the one goscope was
installed with (a virtualenv's site-packages is not on its path), so the directory holding the
package is put on GDB's ``sys.path`` first; the native module is abi3, so any CPython 3.8+
loads it. On failure one line says what is wrong and how to fix it. Loading again is harmless.
"""

from __future__ import annotations


def load(site_dir: str | None, fix: str) -> None:
    """Imports goscope (from `site_dir` first, when given) and registers its GDB commands;
    on failure prints one line ending with `fix`."""
    import importlib
    import sys

    def fail(reason: str) -> None:
        print(f"goscope: {reason} \N{EM DASH} {fix}")

    if site_dir is not None and site_dir not in sys.path:
        sys.path.insert(0, site_dir)
    try:
        importlib.import_module("goscope._native")
    except ImportError as error:
        fail(f"native module cannot be loaded ({error})")
        return
    except Exception as error:  # a broken installation must not leave a traceback in GDB
        fail(f"native module failed to load ({type(error).__name__}: {error})")
        return
    try:
        importlib.import_module("goscope.gdb").register()
    except Exception as error:
        print(f"goscope: could not register the GDB commands ({type(error).__name__}: {error})")


if __name__ == "__main__":  # `source FILE` in GDB runs the file as __main__
    import os as _os

    load(
        _os.path.dirname(_os.path.dirname(_os.path.realpath(__file__))),
        "reinstall the goscope wheel",
    )
    del _os
    del load
