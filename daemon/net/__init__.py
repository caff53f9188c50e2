"""Talking to other daemons: gossip scheduling, the sync client and endpoint, discovery, identity proof.

The exchange itself is the sans-IO machine in `pnyx.federation.sync`; this
package carries it over HTTP and mDNS. May import `store/`; never `cli/`,
`http/` or `services/`.
"""
