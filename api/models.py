"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from api.keys.models import OrganisationKey

__all__ = ["OrganisationKey"]
