# syntax=docker/dockerfile:1
#
# hookpost: one image, one binary, four roles.
#
#   docker build -t hookpost:0.1.0 .
#   docker run hookpost:0.1.0 ingest      # or: worker | scheduler | all (the default)
#
# Configuration is only HOOKPOST_* environment variables (see deploy/README.md).

# Every base image is pinned to an exact version (bump them on purpose).
ARG RUST_VERSION=1.95.0

# ---------------------------------------------------------------------------
# Build stage. rust:*-bookworm already has gcc, which is all that ring (the
# crypto under rustls) and mimalloc (the allocator) need.
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# .git is not copied: pass the commit for hookpost_build_info, e.g.
#   docker build --build-arg HOOKPOST_BUILD_COMMIT=$(git rev-parse --short=12 HEAD) .
ARG HOOKPOST_BUILD_COMMIT=unknown

# The whole workspace is copied (every member, tests/ included, must be present
# for Cargo to load the workspace); .dockerignore keeps target/ and .git out.
COPY . .

# The cache mounts keep downloaded crates and compiled dependencies between
# builds (BuildKit, the default builder of current Docker). Because target/ is
# a cache mount, the binary is copied out within the same RUN.
# --locked: build exactly what Cargo.lock says, or fail.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release -p hookpost --locked \
 && install -m 0755 target/release/hookpost /usr/local/bin/hookpost

# ---------------------------------------------------------------------------
# Runtime stage.
# ---------------------------------------------------------------------------
FROM debian:12.9-slim

# ca-certificates: receivers are HTTPS (rustls verifies against the system's
#   roots); without it every TLS delivery fails with outcome="tls".
# curl: the container healthchecks (docker-compose.yml) call /readyz with it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A numeric, non-root user: Kubernetes' runAsNonRoot can only verify a numeric
# USER, and deploy/k8s/ runs the pods as this same uid/gid.
RUN groupadd --system --gid 10001 hookpost \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin hookpost

COPY --from=builder /usr/local/bin/hookpost /usr/local/bin/hookpost

# Inside a container the listeners must not be bound to loopback only
# (the binary's defaults are 127.0.0.1:8080 and 127.0.0.1:9090).
#   8080: ingest API (and /healthz)
#   9090: /metrics, /healthz, /readyz of every role
ENV HOOKPOST_HTTP_ADDR=0.0.0.0:8080 \
    HOOKPOST_METRICS_ADDR=0.0.0.0:9090
EXPOSE 8080 9090

USER 10001:10001

# No HEALTHCHECK here: each deployment declares its own (every role answers
# /readyz on 9090).
# hookpost handles SIGTERM itself (finishing in-flight deliveries for up to
# HOOKPOST_SHUTDOWN_GRACE, 30s by default): give containers a stop timeout
# above that (docker-compose.yml: stop_grace_period; k8s:
# terminationGracePeriodSeconds).
ENTRYPOINT ["hookpost"]
CMD ["all"]
