"""The Symbiota portal, by database (db mode), REST API (api mode) or import CSV (csv mode)."""
