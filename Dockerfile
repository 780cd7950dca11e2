# barelb: one image for both programs (`args: [controller]` / `args: [speaker]` in manifests/).
#
#   docker build -t barelb:0.1.0 .
#
# (Without a registry, scripts/image.sh builds it with podman on stand-in base images.)
#
# Build stage: dependencies, the packet-socket addon (npm ci runs node-gyp through the
# package's install script) and the TypeScript build; then the dev dependencies go.
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json binding.gyp ./
COPY native/ native/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
RUN npm run build
RUN npm prune --omit=dev

# Runtime stage: Node, the compiled program, its production dependencies and the addon, plus
# nft, which the speaker runs for `--forward nodeport` (examples/nodeport).
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nftables \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/src/ dist/src/
COPY --from=build /src/build/Release/barelb_packet.node build/Release/
# The controller runs as this user (manifests/controller.yaml says runAsUser 65532 too); the
# speaker's DaemonSet overrides it with root, holding only NET_RAW and NET_ADMIN.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
