# heed as a container image: the static heed on an empty base
# (docs/containers.md). docker build -t heed .
#
# Stage 1 builds the static binary as `make static` does, with only the
# build dependencies (scripts/deps.sh installs the test servers too).
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libevent-dev libcurl4-openssl-dev libjansson-dev libc-ares-dev libssl-dev \
      libfyaml-dev libsqlite3-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build-static -DHEED_STATIC=ON -DCMAKE_BUILD_TYPE=MinSizeRel \
      -DHEED_TESTS=OFF -DHEED_INSTALL_MAN=OFF \
 && cmake --build build-static -j"$(nproc)" --target heed \
 && mkdir -p /out/var/lib/heed /out/tmp

# Stage 2: the binary, the CA certificates for tls:// targets, a data
# directory for `heed agent`, and an unprivileged user (no passwd file is
# needed for a numeric one).
FROM scratch
COPY --from=build /src/build-static/heed /heed
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/var/lib/heed /var/lib/heed
COPY --from=build --chmod=1777 /out/tmp /tmp
USER 65532:65532
ENTRYPOINT ["/heed"]
CMD ["--help"]
