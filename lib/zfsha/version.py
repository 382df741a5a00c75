"""The project version, single-sourced in setup.cfg."""

from functools import cache


@cache
def version() -> str:
    """Return the installed distribution's version, or setup.cfg's when running from the tree."""
    import configparser
    from importlib import metadata

    try:
        return metadata.version("zfsha")
    except metadata.PackageNotFoundError:
        pass
    from pathlib import Path

    setup_cfg = Path(__file__).resolve().parents[2] / "setup.cfg"
    parser = configparser.ConfigParser()
    if parser.read(setup_cfg):
        return parser.get("metadata", "version", fallback="0")
    return "0"
