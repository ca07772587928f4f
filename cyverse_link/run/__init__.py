"""What every command's run shares: ``open_run`` builds the run's collaborators once from
``Settings`` (lock, adapters, ledger, identifier parser) and records the run and its report."""
