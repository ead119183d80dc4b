"""The authorisation matrix: who may call each route of the API.

FORMAT. One entry per (METHOD, path template as declared, e.g. "/api/v1/cases/{case_id}")
mapping to the set of callers that must NOT be refused, chosen from::

    "anonymous"  no credentials
    "admin", "coordinator", "caseworker", "lawyer"   a signed-in account of that role
    "partner"    a partner API key with the "stats:read" scope (sent as X-API-Key)

tests/auth/test_access_matrix.py sends every route a request as every caller, with that
caller's credentials, an empty JSON body (for methods with a body) and random values for
path parameters. A caller in the set must get anything but 401/403 (a 404 or 422 for the
random input is fine: it passed authorisation); a caller not in the set must get 401 or
403. A route without an entry, or an entry without a route, fails the test.

When you add a route, add its line here, in the block of your feature. Routes that
authenticate by something else (a receipt-based follow-up session, an upload capability,
a CSRF token) list the callers that the route does not refuse with 401/403 given a random
value: usually everyone, or nobody (``NOBODY``) if it answers 401/403 to a bad token.
"""

from __future__ import annotations

EVERYONE = frozenset({"anonymous", "admin", "coordinator", "caseworker", "lawyer", "partner"})
STAFF = frozenset({"admin", "coordinator", "caseworker", "lawyer"})
ADMIN = frozenset({"admin"})
PARTNER = frozenset({"partner"})
COORDINATOR = frozenset({"coordinator"})
CASE_STAFF = frozenset({"coordinator", "caseworker"})
CASE_READERS = frozenset({"coordinator", "caseworker", "lawyer"})
NOBODY: frozenset[str] = frozenset()

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # ---- foundation ----
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    # ---- API documentation pages and their bundled assets (api/apidocs), on every surface ----
    ("GET", "/api/docs"): EVERYONE,
    ("GET", "/api/docs/assets/{name}"): EVERYONE,
    ("GET", "/api/redoc"): EVERYONE,
    # ---- auth: accounts and sessions ----
    ("POST", "/api/v1/auth/login"): EVERYONE,
    ("POST", "/api/v1/auth/logout"): STAFF,
    ("GET", "/api/v1/auth/me"): STAFF,
    ("POST", "/api/v1/auth/password"): STAFF,
    ("GET", "/api/v1/auth/sessions"): STAFF,
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): STAFF,
    ("POST", "/api/v1/admin/users"): ADMIN,
    ("GET", "/api/v1/admin/users"): ADMIN,
    ("POST", "/api/v1/admin/users/{user_id}/disable"): ADMIN,
    ("POST", "/api/v1/admin/users/{user_id}/enable"): ADMIN,
    ("PUT", "/api/v1/admin/users/{user_id}/role"): ADMIN,
    ("POST", "/api/v1/admin/users/{user_id}/reset-totp"): ADMIN,
    ("POST", "/api/v1/admin/users/{user_id}/revoke-sessions"): ADMIN,
    ("PUT", "/api/v1/admin/users/{user_id}/intake-duty"): ADMIN,
    ("POST", "/api/v1/admin/users/{user_id}/reader-approval"): ADMIN,
    # ---- approvals (two-person rule): admins request through their routes, never decide ----
    ("GET", "/api/v1/approvals"): COORDINATOR,
    ("POST", "/api/v1/approvals/{approval_id}/approve"): COORDINATOR,
    ("POST", "/api/v1/approvals/{approval_id}/reject"): COORDINATOR,
    # ---- audit ----
    ("GET", "/api/v1/admin/audit/export"): ADMIN,
    ("GET", "/api/v1/admin/audit/verify"): ADMIN,
    ("POST", "/api/v1/admin/audit/checkpoints"): ADMIN,
    # ---- organisation profile (printed on referral drafts) ----
    ("GET", "/api/v1/admin/organisation-profile"): ADMIN,
    ("PUT", "/api/v1/admin/organisation-profile"): ADMIN,
    ("GET", "/api/v1/admin/audit/shipping"): ADMIN,
    # ---- partners ----
    ("POST", "/api/v1/admin/partners"): ADMIN,
    ("GET", "/api/v1/admin/partners"): ADMIN,
    ("POST", "/api/v1/admin/partners/{partner_id}/keys"): ADMIN,
    ("GET", "/api/v1/admin/partners/{partner_id}/keys"): ADMIN,
    ("POST", "/api/v1/admin/partner-keys/{key_id}/revoke"): ADMIN,
    ("GET", "/api/v1/partner/me"): PARTNER,
    # ---- intake (public; lawyers may sign in, see OptionalStaff) ----
    ("GET", "/api/v1/submissions/schema"): EVERYONE,
    # Signed-in staff other than lawyers are refused: staff do not submit as clients.
    ("POST", "/api/v1/submissions"): frozenset({"anonymous", "lawyer", "partner"}),
    # ---- uploads (tus; authorised by an upload capability, not an account) ----
    ("OPTIONS", "/api/v1/uploads"): EVERYONE,
    ("POST", "/api/v1/uploads"): EVERYONE,
    ("HEAD", "/api/v1/uploads/{token}"): EVERYONE,
    ("PATCH", "/api/v1/uploads/{token}"): EVERYONE,
    ("DELETE", "/api/v1/uploads/{token}"): EVERYONE,
    # ---- follow-up (authorised by a receipt-based session, not an account) ----
    ("POST", "/api/v1/followup/session"): EVERYONE,
    ("GET", "/api/v1/followup/status"): NOBODY,
    ("GET", "/api/v1/followup/messages"): NOBODY,
    ("POST", "/api/v1/followup/messages"): EVERYONE,  # the body is checked first (422)
    ("POST", "/api/v1/followup/additions"): NOBODY,
    # ---- cases ----
    ("GET", "/api/v1/cases"): CASE_READERS,
    ("GET", "/api/v1/cases/{case_id}"): CASE_READERS,
    ("GET", "/api/v1/cases/perpetrators/{ref}"): CASE_READERS,
    ("PATCH", "/api/v1/cases/{case_id}"): CASE_STAFF,
    ("GET", "/api/v1/cases/{case_id}/transitions"): CASE_STAFF,
    ("POST", "/api/v1/cases/{case_id}/transitions"): CASE_STAFF,
    ("PUT", "/api/v1/cases/{case_id}/assignee"): COORDINATOR,
    ("GET", "/api/v1/cases/{case_id}/messages"): CASE_STAFF,
    ("POST", "/api/v1/cases/{case_id}/messages"): CASE_STAFF,
    ("POST", "/api/v1/cases/{case_id}/threads/{thread_id}/answered"): CASE_STAFF,
    ("GET", "/api/v1/cases/{case_id}/attachments/{attachment_id}"): CASE_READERS,
    ("POST", "/api/v1/cases/{case_id}/attachments/{attachment_id}/derivatives"): CASE_STAFF,
    ("POST", "/api/v1/cases/{case_id}/access"): COORDINATOR,
    ("POST", "/api/v1/cases/{case_id}/threads/{thread_id}/access"): COORDINATOR,
    ("DELETE", "/api/v1/cases/{case_id}/threads/{thread_id}/access/{staff_id}"): COORDINATOR,
    ("DELETE", "/api/v1/cases/{case_id}/access/{staff_id}"): COORDINATOR,
    ("POST", "/api/v1/cases/{case_id}/consents"): CASE_STAFF,
    ("POST", "/api/v1/cases/{case_id}/consents/{consent_id}/revoke"): CASE_STAFF,
    ("POST", "/api/v1/cases/{case_id}/merge"): COORDINATOR,
    ("POST", "/api/v1/cases/{case_id}/split"): COORDINATOR,
    ("GET", "/api/v1/cases/{case_id}/referral-drafts/{mechanism}"): CASE_STAFF,
    # ---- vocabularies (public reference data) ----
    ("GET", "/api/v1/vocabularies"): EVERYONE,
    ("GET", "/api/v1/vocabularies/{vocab_id}"): EVERYONE,
    ("GET", "/api/v1/vocabularies/{vocab_id}/uwazi"): EVERYONE,
    # ---- jobs and notifications ----
    ("GET", "/api/v1/admin/jobs"): ADMIN,
    ("GET", "/api/v1/admin/jobs/summary"): ADMIN,
    ("POST", "/api/v1/admin/jobs/{job_id}/retry"): ADMIN,
    ("GET", "/api/v1/admin/notifications/subscriptions"): ADMIN,
    ("PUT", "/api/v1/admin/notifications/subscriptions/{staff_user_id}"): ADMIN,
    ("DELETE", "/api/v1/admin/notifications/subscriptions/{subscription_id}"): ADMIN,
    # ---- statistics ----
    ("GET", "/api/v1/stats/tables"): PARTNER,
    ("GET", "/api/v1/stats/tables/{table_id}"): PARTNER,
    ("GET", "/api/v1/stats/tables/{table_id}/chart.svg"): PARTNER,
    ("GET", "/api/v1/stats/budget"): PARTNER,
    ("GET", "/api/v1/stats/partners/{partner_id}/policy"): ADMIN,
    ("PUT", "/api/v1/stats/partners/{partner_id}/policy"): ADMIN,
    ("POST", "/api/v1/stats/refresh"): ADMIN,
    # ---- public web form ----
    ("GET", "/"): EVERYONE,
    ("GET", "/report"): EVERYONE,
    ("POST", "/report"): EVERYONE,
    ("GET", "/about"): EVERYONE,
    ("GET", "/followup"): EVERYONE,
    ("POST", "/followup"): EVERYONE,
    ("POST", "/followup/files"): EVERYONE,
    ("GET", "/static/{name}"): EVERYONE,
    # ---- staff console (cookie session; POSTs carry its CSRF token) ----
    ("GET", "/staff/"): EVERYONE,  # a redirect: to the sign-in, the queue or the account
    ("GET", "/staff/static/console.css"): EVERYONE,
    ("GET", "/staff/sign-in"): EVERYONE,
    ("POST", "/staff/sign-in"): NOBODY,  # 403 without the sign-in form's own token
    ("POST", "/staff/sign-out"): STAFF,
    ("GET", "/staff/account"): STAFF,
    ("POST", "/staff/account/language"): STAFF,
    ("POST", "/staff/account/password"): STAFF,
    ("POST", "/staff/account/sessions/{session_id}/end"): STAFF,
    ("GET", "/staff/queue"): CASE_READERS,
    ("GET", "/staff/cases/{case_id}"): CASE_READERS,
    ("GET", "/staff/cases/{case_id}/attachments/{attachment_id}"): CASE_READERS,
    ("POST", "/staff/cases/{case_id}/transitions"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/messages"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/assignee"): COORDINATOR,
    ("POST", "/staff/cases/{case_id}/access"): COORDINATOR,
    ("POST", "/staff/cases/{case_id}/access/{staff_id}/revoke"): COORDINATOR,
    ("GET", "/staff/cases/{case_id}/merge"): COORDINATOR,
    ("POST", "/staff/cases/{case_id}/merge"): COORDINATOR,
    ("GET", "/staff/cases/{case_id}/split"): COORDINATOR,
    ("POST", "/staff/cases/{case_id}/split"): COORDINATOR,
    ("POST", "/staff/cases/{case_id}/attachments/{attachment_id}/clean-copy"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/threads/{thread_id}/answered"): CASE_STAFF,
    ("GET", "/staff/approvals"): COORDINATOR,
    ("POST", "/staff/approvals/{approval_id}/approve"): COORDINATOR,
    ("POST", "/staff/approvals/{approval_id}/reject"): COORDINATOR,
    ("GET", "/staff/cases/{case_id}/acts/new"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/acts/{act_id}"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/acts"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/acts/{act_id}"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/referral-drafts/{mechanism}"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/persons/new"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/persons/{person_id}"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/persons"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/persons/{person_id}"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/persons/{person_id}/remove"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/relationships"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/relationships"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/consents"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/consents/{consent_id}/revoke"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/interventions"): CASE_READERS,
    ("GET", "/staff/cases/{case_id}/interventions/new"): CASE_STAFF,
    ("GET", "/staff/cases/{case_id}/interventions/{intervention_id}"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/interventions"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/interventions/{intervention_id}"): CASE_STAFF,
    ("POST", "/staff/cases/{case_id}/interventions/{intervention_id}/remove"): CASE_STAFF,
    ("GET", "/staff/admin/accounts"): ADMIN,
    ("GET", "/staff/admin/system"): ADMIN,
    ("POST", "/staff/admin/audit/verify"): ADMIN,
    ("POST", "/staff/admin/jobs/{job_id}/retry"): ADMIN,
    ("POST", "/staff/admin/accounts"): ADMIN,
    ("POST", "/staff/admin/accounts/{user_id}/disable"): ADMIN,
    ("POST", "/staff/admin/accounts/{user_id}/enable"): ADMIN,
    ("POST", "/staff/admin/accounts/{user_id}/role"): ADMIN,
    ("POST", "/staff/admin/accounts/{user_id}/intake-duty"): ADMIN,
    ("POST", "/staff/admin/accounts/{user_id}/reset-totp"): ADMIN,
    ("GET", "/staff/admin/audit/export"): ADMIN,
    ("POST", "/staff/admin/audit/export"): ADMIN,
    ("GET", "/staff/admin/partners"): ADMIN,
    ("POST", "/staff/admin/partners"): ADMIN,
    ("GET", "/staff/admin/partners/{partner_id}"): ADMIN,
    ("POST", "/staff/admin/partners/{partner_id}/keys"): ADMIN,
    ("POST", "/staff/admin/partner-keys/{key_id}/revoke"): ADMIN,
    ("GET", "/staff/admin/organisation-profile"): ADMIN,
    ("POST", "/staff/admin/organisation-profile"): ADMIN,
}
