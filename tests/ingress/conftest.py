from tests.intake.conftest import intake, intake_with

__all__ = ["intake", "intake_with"]
