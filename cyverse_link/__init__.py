"""cyverse_link: put specimen images on CyVerse and link them to a Symbiota portal."""

__version__ = "0.1.0"
