"""The pnyx daemon: everything with I/O around the pure protocol core (`pnyx.federation`).

Its packages are its layers; imports run one way, from top to bottom:

    cli/        the `pnyx` command line, one module per command group
    http/       the daemon's HTTP server: the local API, the event stream, the web page
    net/        talking to other daemons: gossip, the sync client and endpoint,
                mDNS discovery, proving a peer's device key
    services/   what the command line and the API share: the writes, how each
                record is written, status, names, reaching a running daemon
    store/      the data directory: the SQLite store, documents, ingest, holdings,
                the peers table, bundles, the view index

`http/` and `net/` sit side by side (the server mounts the sync endpoint);
nothing below `cli/` imports it, and nothing in `store/` imports `services/`,
`net/` or `http/`.
"""
