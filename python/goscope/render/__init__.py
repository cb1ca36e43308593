"""Text rendering shared by the command line and the GDB commands."""

from goscope.render.style import Style

__all__ = ["Style"]
