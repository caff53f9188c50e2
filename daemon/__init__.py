"""The pnyx daemon: everything with I/O around the pure protocol core.

SQLite store, HTTP server and client, discovery, gossip scheduling and the CLI.
"""
