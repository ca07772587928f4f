"""Where the images go: the iRODS data store (python-irodsclient) and its in-memory double."""
