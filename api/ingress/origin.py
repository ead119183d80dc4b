"""Whether a page form was posted from this site: the one cross-site check, by headers.

Browsers say where a form post comes from (``Sec-Fetch-Site``, and ``Origin`` on every
POST); a form on another site that posts to ours is refused with 403. It is a step of the
admission table (:data:`api.ingress.admit.POLICIES`) and runs before any rate limit: a
page elsewhere that makes its visitors' browsers post to the form must not spend the
global intake budget, or the budget of the circuit a victim's browser is on.
"""

from __future__ import annotations

from fastapi import Request

from api.core.errors import DokazError


class CrossSite(DokazError):
    status_code = 403
    code = "cross_site"
    default_message = (
        "This form was sent from another website, so it was refused. Nothing was saved; "
        "open the form on this site and send it from there."
    )


def is_cross_site(request: Request) -> bool:
    """True when the browser says the post comes from another site (``Origin: null``
    counts as ours: Tor Browser at its strictest level sends it for our own form)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        # Host only: behind a TLS-terminating proxy the app sees http while Origin says https.
        origin_host = origin.split("://", 1)[-1].rstrip("/")
        if origin_host != request.headers.get("host", ""):
            return True
    return False


def check_same_site(request: Request) -> None:
    if is_cross_site(request):
        raise CrossSite()
