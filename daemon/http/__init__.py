"""The daemon's HTTP side: the server, the local API, its event stream and the web page (`web/`).

May import `net/` (the server mounts the sync endpoint and runs gossip and
discovery), `services/` and `store/`; never `cli/`.
"""
