# syntax=docker/dockerfile:1
# textops image: `serve` (the inference API, the default command) or `worker` (the SQS upload consumer).
# Three stages: install the locked dependencies, bundle the CLI into one ES module with esbuild, and a slim
# runtime with only that bundle and params.yaml, run as a non-root user. tests/deploy/container.test.ts builds
# the same bundle with the same command and starts it as this image would.
#
# The base image is pinned by digest, so a rebuild gets the same bytes until someone chooses otherwise; the tag
# stays beside it so Dependabot (docker ecosystem, .github/dependabot.yml) can propose the tag's newer digest
# weekly. Written out in each FROM, not through an ARG: Dependabot does not read ARG defaults.
FROM node:22-bookworm-slim@sha256:f32b81066cde10a75dbac96646099533316d94bac4150c55da1636e1f0ffdc46 AS install
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build the CLI for development, which this image does not use.
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM install AS bundle
COPY tsconfig.json ./
COPY cli ./cli
COPY shared ./shared
COPY functions ./functions
COPY local ./local
COPY scripts/bundle-container.mjs scripts/esbuild-plugins.cjs scripts/container-healthcheck.mjs ./scripts/
RUN node scripts/bundle-container.mjs /out

FROM node:22-bookworm-slim@sha256:f32b81066cde10a75dbac96646099533316d94bac4150c55da1636e1f0ffdc46 AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=bundle /out/ ./
COPY params.yaml ./
# The image's `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["node", "--enable-source-maps", "/app/cli.mjs"]
CMD ["serve"]
