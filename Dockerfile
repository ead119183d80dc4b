# Dokaz API (and, with a different command, the worker): `docker build -t dokaz .`
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DOKAZ_DATA_DIR=/data \
    DOKAZ_HOST=0.0.0.0 \
    DOKAZ_PORT=8000

RUN groupadd --system dokaz && useradd --system --gid dokaz --home-dir /app --shell /usr/sbin/nologin dokaz

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY api ./api
COPY crypto ./crypto
COPY workers ./workers
COPY alembic ./alembic
RUN pip install --no-cache-dir . \
    && mkdir -p /data && chown dokaz:dokaz /data && chmod 700 /data

USER dokaz
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
ENTRYPOINT ["dokaz"]
CMD ["serve"]
