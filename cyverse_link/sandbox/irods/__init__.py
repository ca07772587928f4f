"""A loopback iRODS server for tests and the offline demo (see ``server.SandboxIrods``)."""

from cyverse_link.sandbox.irods.faults import Faults, Stats, StatsSnapshot
from cyverse_link.sandbox.irods.server import ObjectInfo, ReplicaInfo, SandboxIrods

__all__ = [
    "Faults",
    "ObjectInfo",
    "ReplicaInfo",
    "SandboxIrods",
    "Stats",
    "StatsSnapshot",
]
