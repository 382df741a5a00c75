"""A FreeBSD host simulated for tests: see tools.py."""
