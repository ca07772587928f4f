"""Commands over what is already there: ``link`` (images already in iRODS), ``relink`` (dead
BisQue rows), ``verify`` (the URLs the ledger holds) and ``check`` (config and services)."""
