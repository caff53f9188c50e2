"""The pnyx protocol core: keys, signed changes, document schemas, sync, view.

Pure Python with no sockets, files or clocks, so that a second implementation,
a client or a test can run every rule deterministically; time and randomness
are always passed in by the caller. The hot decoding modules may run compiled by
mypyc from this same source: pnyx.compiled says when (README, "Compiled modules").
"""

from pnyx.compiled import federation_path

__path__ = federation_path(__path__)
