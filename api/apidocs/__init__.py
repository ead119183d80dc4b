"""The interactive API documentation (Swagger UI at ``/api/docs``, ReDoc at ``/api/redoc``),
served with every asset from this process under a strict Content-Security-Policy."""
