"""The data directory and what it holds: the SQLite store and everything read from it.

`sqlite.py` is the store; `ingest.py` the only way a change gets in;
`documents.py` materializes Automerge documents; `ledgerindex.py` and
`devicesindex.py` index each ledger's records and devices, which reads take instead of
the whole document (`ancestry.py` answers which change reaches which); `pending.py` bounds what
waits; `senders.py` counts what each pusher sent; `faults.py` and `mark.py`
say what went wrong with the disk or the store; `node.py` opens a data
directory. May import only `pnyx.federation` and the standard library's I/O;
never `services/`, `net/`, `http/` or `cli/`.
"""
