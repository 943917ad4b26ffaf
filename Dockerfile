# vnet's controller and agent in one Debian 12 image, built with the
# project's own build (scripts/setup installs the packages it needs).
#   docker build -t vnet .
FROM debian:12 AS build
WORKDIR /src
COPY scripts/setup scripts/setup
RUN apt-get update -qq && scripts/setup
COPY . .
RUN cmake -S . -B build -G Ninja -DVNET_TESTS=OFF -DVNET_BENCH=OFF -DVNET_WEB_DIR=/usr/share/vnet/web \
 && ninja -C build vnet-controller vnet-agent vnetctl

FROM debian:12
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libsqlite3-0 libpq5 libssl3 libspdlog1.10 libfmt9 libbpf1 libxdp1 libelf1 libmnl0 \
      libtomlplusplus3 libsystemd0 \
      ca-certificates curl python3 iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/controller/vnet-controller /src/build/controller/vnetctl \
     /src/build/agent/vnet-agent /usr/local/bin/
# The web console: static files, served by vnet-controller at / (--web-dir).
COPY --from=build /src/web/index.html /src/web/style.css /src/web/favicon.svg /usr/share/vnet/web/
COPY --from=build /src/web/app /usr/share/vnet/web/app
COPY --from=build /src/web/vendor /usr/share/vnet/web/vendor
COPY deploy/agent-entrypoint deploy/enroll-hosts /usr/local/bin/
EXPOSE 8080 6641
CMD ["vnet-controller", "--data-dir", "/var/lib/vnet", "--listen", "0.0.0.0:8080", "--southbound", "0.0.0.0:6641"]
