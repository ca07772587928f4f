"""Registers the admin fixtures (defined in admin_support.py)."""

from admin_support import backend_url, irods, symbiota

__all__ = ["backend_url", "irods", "symbiota"]
