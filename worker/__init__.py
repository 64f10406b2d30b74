"""The worker side of gradprobe: everything that imports torch lives in this package."""
