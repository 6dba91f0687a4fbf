# One image for all the services; the SERVICE environment variable chooses which one runs
# (scripts/container_entry.sh migrates its database, then serves it). The workbench runs from
# the same image with `python -m services.workbench` (docker-compose.yml); its web app is
# built in the `web` stage below and only the built files are copied into the image.
#
#   docker build -t housing-platform .
#   docker run -e SERVICE=intake -p 8001:8001 housing-platform
FROM python:3.11-slim AS platform

ARG UV_VERSION=0.13.9
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && groupadd --system housing \
    && useradd --system --gid housing --home-dir /app --no-create-home housing

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Only what the services (and the reference simulators) run; tests, docs and the local .venv stay out of the image.
COPY shared ./shared
COPY services ./services
COPY simulators ./simulators
COPY deploy ./deploy
COPY scripts/container_entry.sh ./scripts/container_entry.sh

ENV PATH="/app/.venv/bin:${PATH}" \
    HOUSING_HOST=0.0.0.0

# The services' OpenAPI documents, for the web build's typed client (no service runs).
FROM platform AS openapi
RUN python -m services.workbench openapi --output /openapi

FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY services/workbench/web/package.json services/workbench/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/workbench/web ./
COPY --from=openapi /openapi ./openapi
RUN WORKBENCH_SKIP_OPENAPI_DUMP=1 npm run build

FROM platform
COPY --from=web /web/dist ./services/workbench/web/dist

USER housing

CMD ["bash", "/app/scripts/container_entry.sh"]
