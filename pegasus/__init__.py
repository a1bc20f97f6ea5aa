"""pegasus: run shell commands from a live YAML queue on many SSH hosts."""

from .cli import __version__

__all__ = ["__version__"]
