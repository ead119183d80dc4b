"""Who can open a case: the key wraps of a case key, and the grants and revocations that
add or remove them."""
