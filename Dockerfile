# saml-authz images: one Dockerfile, a target per service.
#   docker build --target token-service -t saml-authz/token-service:0.1.0 .
#   docker build --target authz-service -t saml-authz/authz-service:0.1.0 .
# No `# syntax=` line: the builder's own Dockerfile frontend is enough, so an air-gapped build fetches
# nothing but the base image. Behind a TLS-intercepting proxy, give npm its CA (PEM text), used by the
# build stages only and never in the runtime images:
#   docker build --build-arg NPM_EXTRA_CA="$(cat corporate-ca.pem)" --target token-service .
# The development stack (services/dev, services/dev-idp, the embedded Postgres) is neither in the build
# context (.dockerignore) nor compiled (tsconfig.build.json); the build stage checks it.
# The runtime images hold the compiled JavaScript (dist/), migrations/, package.json and the production
# dependencies only; they run as the numeric non-root user 10001 from a read-only root filesystem
# (nothing is written outside a mounted /tmp), and node is PID 1 through an exec-form CMD, so SIGTERM
# reaches it and the services' graceful shutdown runs.
# No heap flags in the images (no NODE_OPTIONS, none on the CMD line): the heap belongs to the memory
# limit, which only the deployment knows. The charts render NODE_OPTIONS from resources.limits.memory
# (values nodeHeap.*); with plain docker, pass the same, e.g.
#   docker run -m 384m -e NODE_OPTIONS="--max-old-space-size=192 --max-semi-space-size=8" …
# A heap flag on the CMD line would silently override NODE_OPTIONS (node reads its command line last).

# Pinned by tag (Node 24 LTS on Debian bookworm, slim). Override with --build-arg NODE_IMAGE=…@sha256:…
ARG NODE_IMAGE=node:24.21-bookworm-slim

# --- build: the full dependency tree, then tsc → dist/ -----------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
ARG NPM_EXTRA_CA=""
# No install scripts are needed to compile (they fetch or build binaries for dev tooling only).
RUN if [ -n "$NPM_EXTRA_CA" ]; then ca="$(mktemp)" && printf '%s\n' "$NPM_EXTRA_CA" > "$ca" && export NODE_EXTRA_CA_CERTS="$ca"; fi \
 && npm ci --ignore-scripts --no-audit --no-fund \
 && rm -f "${ca:-}"
COPY tsconfig.json tsconfig.build.json ./
COPY services ./services
RUN npm run build \
 && test ! -e dist/services/dev && test ! -e dist/services/dev-idp && ! ls dist/services/shared/embedded-postgres* >/dev/null 2>&1

# --- production dependencies only ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
ARG NPM_EXTRA_CA=""
# embedded-postgres (and its ~60 MB of platform binaries) is a dev dependency: not installed here.
RUN if [ -n "$NPM_EXTRA_CA" ]; then ca="$(mktemp)" && printf '%s\n' "$NPM_EXTRA_CA" > "$ca" && export NODE_EXTRA_CA_CERTS="$ca"; fi \
 && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && rm -f "${ca:-}"

# --- runtime base --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    HOME=/tmp
WORKDIR /app
# Owned by root and not writable by the service user: the code cannot be changed at run time.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
USER 10001:10001

# --- token-service (its image also runs the migration hook: dist/services/shared/db/migrate-cli.js) --
# Each target's PORT is its service's default (services/shared/config.ts); the charts set PORT and
# METRICS_PORT from containerPorts explicitly.
FROM runtime AS token-service
ENV PORT=8080 \
    METRICS_PORT=9464
EXPOSE 8080 9464
CMD ["node", "--enable-source-maps", "dist/services/token-service/main.js"]

# --- authz-service -------------------------------------------------------------------------------
FROM runtime AS authz-service
ENV PORT=8081 \
    METRICS_PORT=9465
EXPOSE 8081 9465
CMD ["node", "--enable-source-maps", "dist/services/authz-service/main.js"]
