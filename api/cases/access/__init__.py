"""Who can open a case: which cases a principal may see (scoping), sealing a case key to a
recipient (wraps), and the grants, revocations and recovery-key grants that add or remove
wraps. The wrap rows themselves are stored and queried by api.keys.repository."""
