"""releasemgr: immutable-infrastructure release manager (`release`)."""

__version__ = "0.1.0"
