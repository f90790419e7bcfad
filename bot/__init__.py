"""citebot's application: settings, command line, console and Discord front ends."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("citebot")  # pyproject.toml's, as installed: one place to change it
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
