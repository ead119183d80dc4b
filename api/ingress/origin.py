"""Whether a page form was posted from this site: the one cross-site check, by headers.

Browsers say where a form post comes from (``Sec-Fetch-Site``, and ``Origin`` on every
POST); a form on another site that posts to ours is refused with 403. It is a step of the
admission table (:data:`api.ingress.admit.POLICIES`) and runs before any rate limit: a
page elsewhere that makes its visitors' browsers post to the form must not spend the
global intake budget, or the budget of the circuit a victim's browser is on.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.core.errors import DokazError


class CrossSite(DokazError):
    status_code = 403
    code = "cross_site"
    default_message = (
        "This form was sent from another website, so it was refused. Nothing was saved; "
        "open the form on this site and send it from there."
    )


def is_cross_site(headers: Mapping[str, str]) -> bool:
    """True when the browser says the post comes from another site (``Origin: null``
    counts as ours: Tor Browser at its strictest level sends it for our own form)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    if origin and origin != "null":
        # Host only: behind a TLS-terminating proxy the app sees http while Origin says https.
        origin_host = origin.split("://", 1)[-1].rstrip("/")
        if origin_host != headers.get("host", ""):
            return True
    return False


def check_same_site(headers: Mapping[str, str]) -> None:
    """403 for a form posted from another site (``headers``: the request's, lower-case)."""
    if is_cross_site(headers):
        raise CrossSite()
