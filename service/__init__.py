"""The gradprobe server: the command line now; the HTTP API and the queue come next.

Nothing in this package imports torch at module level: the API process must stay torch-free.
"""
