# syntax=docker/dockerfile:1
# Licheng: one image for `licheng serve`, `licheng worker` and `licheng migrate`.
#
#   docker build -t licheng .
#   docker run --read-only --tmpfs /tmp -e LICHENG_DATABASE_URL=... -e LICHENG_STORAGE_URL=... \
#       -e LICHENG_SECRET_KEY=... -e LICHENG_DATA_KEY=... -p 8000:8000 licheng
#   docker run ... licheng worker            (same image, another command)
#
# Configured only by environment (LICHENG_*); no secret is baked in. Runs as
# uid 10001 with nothing written outside /tmp and /data, so the root
# filesystem can be mounted read-only. See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/licheng/bin:$PATH
RUN python -m venv /opt/licheng
WORKDIR /src
# Dependencies first: this layer is reused until pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY . .
# pip compiles the bytecode here, so nothing needs writing at run time.
RUN pip install --no-deps . && python -m pip uninstall --yes --quiet pip setuptools wheel

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="licheng" \
      org.opencontainers.image.description="Licheng (歷程): Student Learning Portfolio platform"
RUN groupadd --system --gid 10001 licheng \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin licheng \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /opt/licheng /opt/licheng
ENV PATH=/opt/licheng/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    LICHENG_DATA_DIR=/data
USER 10001:10001
WORKDIR /data
EXPOSE 8000 9102
# uvicorn and the worker both finish in-flight work on SIGTERM, then exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["licheng"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
