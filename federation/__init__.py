"""The pnyx protocol core: keys, signed changes, document schemas, sync, view.

Pure Python with no sockets, files or clocks, so that a second implementation,
a client or a test can run every rule deterministically; time and randomness
are always passed in by the caller.
"""
