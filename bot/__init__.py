"""citebot's application: settings, command line, console and Discord front ends."""

__version__ = "0.1.0"
