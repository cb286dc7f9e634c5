"""The names of files workflows write, for the CLI's help texts (the workflows re-export them).

Why a module of its own, with no imports: the CLI starts without the workflows it only names.
"""

from __future__ import annotations

PEERS_RESULTS = "peers.json"
"""`deepcredit peers`: the comparison's results (workflows.peers.RESULTS)."""
