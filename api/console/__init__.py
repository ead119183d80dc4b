"""The staff console: server-rendered pages under ``/staff/`` on the staff surface."""
