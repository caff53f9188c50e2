"""The daemon's HTTP side: the server, the local API, its event stream and the web page (`web/`).

`access.py` decides whom the API and the page answer (loopback, own names);
`faults.py` makes every error JSON.

May import `net/` (the server mounts the sync endpoint and runs gossip and
discovery), `services/` and `store/`; never `cli/`.
"""
