# The hub with its built-in plugins: `docker build -t hub . && docker run -p 8080:8080 -p 50051:50051 hub`.
# The build stage installs into a virtualenv, which the runtime stage copies: no sources, no pip
# cache and no build tools in the image. The postgres extra (psycopg with its own libpq) is in, so
# the same image keeps its state on PostgreSQL when given HUB_DATABASE_URL=postgresql://….
FROM python:3.11-slim AS build
RUN python -m venv /opt/hub
WORKDIR /src
COPY . .
RUN /opt/hub/bin/pip install --no-cache-dir ".[postgres]" ./plugins/hub-*

FROM python:3.11-slim
COPY --from=build /opt/hub /opt/hub
ENV PATH=/opt/hub/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HUB_HTTP=0.0.0.0:8080 \
    HUB_GRPC=0.0.0.0:50051
# A fixed uid, so that a host directory mounted at /data can be given to it (chown 10001).
RUN useradd --system --uid 10001 --home-dir /data --no-create-home hub \
    && mkdir /data && chown hub:hub /data
USER hub
WORKDIR /data
# The SQLite files (and the admin token the first start writes and prints to the log).
VOLUME ["/data"]
EXPOSE 8080 50051
# Ready means every critical plugin probe is up; the port follows HUB_HTTP if it is changed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['HUB_HTTP'].rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=4)"]
CMD ["hub", "serve", "--data-dir", "/data"]
