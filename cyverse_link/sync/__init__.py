"""``sync`` and its dry run ``plan``: scan + plan, transfer (derive, upload, publish, URL), and
mapping into the portal."""
