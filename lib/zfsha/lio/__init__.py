"""LIO (Linux kernel iSCSI target) export of zvols: desired state, actual state, and the plan between them.

`config` parses the resource's parameters, `identity` decides each zvol's LUN number and serial,
`desired` builds the state the target should have, `plan` diffs it against what `rtslib_backend` read
from the kernel, and `rtslib_backend` applies the plan. Everything but `rtslib_backend` is pure.
"""
