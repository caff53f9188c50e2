"""The data directory and what it holds: the SQLite store and everything read from it.

`sqlite.py` is the store; `ingest.py` the only way a change gets in;
`documents.py` materializes Automerge documents; `node.py` opens a data
directory. May import only `pnyx.federation` and the standard library's I/O;
never `services/`, `net/`, `http/` or `cli/`.
"""
