"""``demo``: the whole pipeline offline: the sandbox servers on loopback, a sample Symbiota
database and drop folder, ``sync`` run twice."""
