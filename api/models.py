"""Every table, imported in one place so Alembic and the tests see the whole schema."""

import api.approvals.models
import api.audit.models
import api.auth.models
import api.cases.files.models
import api.cases.models
import api.cases.referrals.profile
import api.cases.threads.models
import api.followup.models
import api.intake.models
import api.jobs.models
import api.keys.models
import api.notifications.models
import api.partners.models
import api.stats.models
import api.uploads.models  # noqa: F401
