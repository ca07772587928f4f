"""The config file: YAML → frozen ``Settings`` (every error names its key, exit 2) and the
passwords behind it (keyring, ``env:``, literal)."""
