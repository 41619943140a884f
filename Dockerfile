# syntax=docker/dockerfile:1
#
# Roleplane operator image: a static musl binary on distroless, running as non-root.
# The image is linux/amd64 (x86_64-unknown-linux-musl); on other hosts build with
#   docker build --platform linux/amd64 -t ghcr.io/roleplane/roleplane:0.1.0 .

ARG RUST_TARGET=x86_64-unknown-linux-musl

FROM rust:1-bookworm AS builder
ARG RUST_TARGET
# musl-tools provides musl-gcc, which ring's C and assembly sources need for the musl target.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add "${RUST_TARGET}"
WORKDIR /src
COPY . .
# The target dir and registry are cache mounts, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target "${RUST_TARGET}" --bin roleplane \
    && cp "target/${RUST_TARGET}/release/roleplane" /roleplane

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/roleplane/roleplane
LABEL org.opencontainers.image.title="roleplane" \
      org.opencontainers.image.description="Kubernetes operator that keeps SaaS access roles in line with manifests" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Roleplane"
COPY --from=builder /roleplane /roleplane
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/roleplane"]
CMD ["run"]
