from tests.intake.conftest import each_backend, intake, intake_with
from tests.storage.moto_server import moto_s3

__all__ = ["each_backend", "intake", "intake_with", "moto_s3"]
