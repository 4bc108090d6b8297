# The proxylab runtime image for distributed runs (docs/distributed.md): the one `proxylab`
# binary on a slim Debian with the public CA bundle (for https targets), running as non-root.
#
#   docker build -t registry.example.com/proxylab:0.1.0 .
#   docker push registry.example.com/proxylab:0.1.0
#   proxylab deploy k8s scenario.toml --shards 4 --image registry.example.com/proxylab:0.1.0 --out k8s/
#
# Without Docker Hub: deploy/build-image.sh builds the same runtime contract (entrypoint, user,
# workdir) FROM scratch from a local binary (deploy/Containerfile; tests/image.rs checks both).

FROM rust:1.90-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin proxylab \
 && strip target/release/proxylab

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/proxylab /usr/local/bin/proxylab
# 65532: the conventional "nonroot" id; the Jobs set fsGroup so it can write the results volume.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/proxylab"]
CMD ["--help"]
