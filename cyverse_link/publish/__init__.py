"""Web URLs for stored images: CyVerse dav-anon strings, or a BisQue server over HTTP."""
