"""The project version, single-sourced in setup.cfg."""

from functools import cache


@cache
def version() -> str:
    """setup.cfg's version when running from the tree, else the installed distribution's."""
    import configparser
    from importlib import metadata
    from pathlib import Path

    setup_cfg = Path(__file__).resolve().parents[2] / "setup.cfg"
    parser = configparser.ConfigParser()
    if parser.read(setup_cfg) and parser.has_option("metadata", "version"):
        return parser.get("metadata", "version")
    try:
        return metadata.version("zfsha")
    except metadata.PackageNotFoundError:
        return "0"
