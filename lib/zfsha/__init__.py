"""zfsha: Pacemaker agents for highly available ZFS-over-iSCSI storage.

Importing the package imports nothing else: an agent's steady monitor (zfsha.steady) loads only
the few modules it reads files with. The version is zfsha.version.version().
"""
