"""The drop folder: a sorted, streamed scan with content checks (``sniff``), and the web,
thumbnail and large JPEGs made from a master (``derivatives``, libvips)."""
