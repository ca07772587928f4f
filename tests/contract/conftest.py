"""Registers the contract backends (defined in datastore_backends.py) as fixtures."""

from datastore_backends import backend, sandbox

__all__ = ["backend", "sandbox"]
