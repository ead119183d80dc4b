"""Names of audited actions. Features import these instead of typing strings.

Each entry says who did what to which case or object, never what the content was:
details carry ids, counts and field names only.
"""

from __future__ import annotations

# Accounts and sessions
LOGIN = "auth.login"
LOGIN_FAILED = "auth.login_failed"
LOGOUT = "auth.logout"
SESSION_REVOKED = "auth.session_revoked"
PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105 (an action name)
PASSWORD_RESET = "auth.password_reset"  # noqa: S105 (an action name)
USER_CREATED = "user.created"
USER_DISABLED = "user.disabled"
USER_ENABLED = "user.enabled"
ROLE_CHANGE = "user.role_changed"
TOTP_RESET = "user.totp_reset"
INTAKE_DUTY_CHANGED = "user.intake_duty_changed"

# Two-person rule (api.approvals): a change that makes a reader, and its fate
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_APPROVED = "approval.approved"
APPROVAL_REJECTED = "approval.rejected"
APPROVAL_EXPIRED = "approval.expired"

# Keys and access to cases
KEY_GRANT = "key.grant"
KEY_REVOKE = "key.revoke"
RECOVERY_KEY_INSTALLED = "key.recovery_installed"  # details: how ("generated" or "imported")

# Reads of protected content (who, which case, what: field names or attachment ids)
CASE_READ = "case.read"
ATTACHMENT_READ = "attachment.read"
MESSAGE_READ = "message.read"
CASE_CHANGED = "case.changed"
CASE_SHREDDED = "case.shredded"
EXPORT = "export"
# The organisation profile printed on referral drafts (api/cases/referrals/profile.py)
ORGANISATION_PROFILE_CHANGED = "organisation.profile_changed"

# Partners
PARTNER_CREATED = "partner.created"
PARTNER_KEY_CREATED = "partner.key_created"
PARTNER_KEY_REVOKED = "partner.key_revoked"
PARTNER_PULL = "partner.pull"

# The audit log itself
AUDIT_EXPORTED = "audit.exported"
AUDIT_VERIFIED = "audit.verified"
AUDIT_CHECKPOINT = "audit.checkpoint"

ACTOR_KINDS = frozenset({"staff", "partner", "cli", "system", "anonymous"})
