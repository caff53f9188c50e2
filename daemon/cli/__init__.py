"""The `pnyx` command line: `main.py` parses, one module per command group runs.

May import every other package of the daemon; nothing imports it.
"""
