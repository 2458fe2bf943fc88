# syntax=docker/dockerfile:1
# filedrop as a container: the compiled binary (deno task compile's permissions, baked in) on
# distroless's glibc base, run as its non-root user, serving /data on port 8080.
#
#   docker run -p 8080:8080 -v "$PWD/shared:/data" -e FILEDROP_AUTH='me:<hash>' IMAGE
#   docker run -p 8080:8080 -v "$PWD/public:/data:ro" IMAGE --read-only
#
# The server refuses anonymous uploads on an address other machines reach: give FILEDROP_AUTH (a
# hash from 'docker run --rm -i IMAGE hash-password'), or --read-only, or --public-writes.
# Bases are pinned: the build stage by Deno's exact version, the runtime by digest (refresh it
# with 'docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot').

# The build runs on the builder's own platform and cross-compiles for the image's (TARGETARCH).
FROM --platform=$BUILDPLATFORM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock main.ts ./
COPY lib/ lib/
COPY scripts/compile_all.ts scripts/
ARG TARGETARCH
RUN case "$TARGETARCH" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "no filedrop build for $TARGETARCH" >&2; exit 1 ;; \
    esac \
    && deno run --allow-read --allow-run scripts/compile_all.ts "$target" \
    && cp "dist/filedrop-$target" /filedrop \
    && mkdir -p /rootfs/data

FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build --chown=0:0 --chmod=0755 /filedrop /usr/local/bin/filedrop
# ROOT, owned by the user the server runs as, so that a new named volume is writable. (A bind
# mount keeps its owner on the host: make it writable by 65532, or run with --user.)
COPY --from=build --chown=65532:65532 /rootfs/ /
# distroless's "nonroot" user (65532), by number so that no passwd lookup is needed.
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
ENV HOST=0.0.0.0 \
    PORT=8080 \
    FILEDROP_ROOT=/data
EXPOSE 8080
# The binary itself probes the server (there is no shell or curl in the image): any HTTP answer
# below 500 is healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/filedrop", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/filedrop"]
