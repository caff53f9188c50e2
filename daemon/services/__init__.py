"""What the command line and the local API share: the table of writes and how each record is written.

A write's body is parsed here (`bodies.py`), recorded through `records.py`,
and answered as plain JSON (`jsonable.py`); `submit.py` sends a CLI write to
a running daemon or records it directly, `once.py` keeps a write with its
request id so a retry records nothing twice. May import `store/`; never `cli/`,
`http/` or `net/`.
"""
