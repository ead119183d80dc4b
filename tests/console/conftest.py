"""The console's browser tests use the public pages' live server and Chromium."""

from tests.web.conftest import browser, intake_ready, live_server  # noqa: F401
