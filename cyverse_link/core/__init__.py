"""Core values and rules, standard library only: errors and exit codes, models, naming of
remote paths, identifiers (file name → catalog number), URLs, events, what may be logged."""
