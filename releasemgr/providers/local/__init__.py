"""The embedded `local` provider: images are reproducible tarballs of a root folder,
servers are processes started from an unpacked, read-only copy of one image."""
