# ocpp-gateway: build with the Swift toolchain image, run on slim Debian with only what the binary needs.
#   docker build -t ocpp-gateway .
#   docker run -p 3000:3000 -p 8080:8080 -e MQTT_HOSTNAME=broker -v ocpp-data:/data ocpp-gateway

FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift names the test targets too, so their folders must be present for the build to resolve.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product ocpp-gateway --static-swift-stdlib \
    && install -D -m 0755 .build/release/ocpp-gateway /out/ocpp-gateway

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin ocpp \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=build /out/ocpp-gateway /usr/local/bin/ocpp-gateway
ENV DATA_DIR=/data \
    LISTEN_PORT=3000 \
    ADMIN_PORT=8080
VOLUME ["/data"]
USER 10001:10001
EXPOSE 3000 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["/usr/local/bin/ocpp-gateway", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ocpp-gateway"]
