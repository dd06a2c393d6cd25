# tagledger: `tagledger serve` by default. Build: docker build -t tagledger .
# Run: docker run -v $PWD/tagledger.yaml:/etc/tagledger/tagledger.yaml:ro -p 127.0.0.1:8080:8080 tagledger
# (the config must listen on 0.0.0.0:8080 with an api.token to be reachable from outside the container).

# --- build: every dependency, compile TypeScript to dist/ ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts run below explicitly: `prepare` (the TypeScript build) needs the sources copied first.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies only, non-root ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TAGLEDGER_CONFIG=/etc/tagledger/tagledger.yaml
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `npm ci` would run the `prepare` script, which needs typescript (a dev
# dependency, absent here); dist/ comes from the build stage instead. No production dependency
# needs its install script at run time (protobufjs's only checks its optional CLI).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY migrations ./migrations
COPY schemas ./schemas
# PGlite's default directory (./data/pglite) when no database URL is configured.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 8080
# Node, not curl: the slim image has no curl. /healthz never needs the API token.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/tagledger.js"]
CMD ["serve"]
