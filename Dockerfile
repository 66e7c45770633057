# rowgate as a static binary in an otherwise empty image:
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg REVISION=$(git rev-parse HEAD) -t rowgate .
#   docker run --rm rowgate version
#
# GO_IMAGE is the toolchain of the build stage. Every RUN there is in exec
# form and nothing needs a shell, so any image holding a Go toolchain in
# /usr/local/go works: CI, which cannot pull images, passes one it makes
# from the machine's own Go (.ci/image).
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
# GOPROXY may point the module downloads at a mirror; empty means Go's default.
ARG GOPROXY
ARG VERSION
ARG REVISION
# The linker writes the version and revision into internal/buildinfo: the
# build context has no .git, so the toolchain cannot stamp the revision.
# Exec-form RUN does no variable expansion, but ENV does, and the go
# command splits GOFLAGS with quoting, so one -ldflags carries both.
ENV CGO_ENABLED=0 \
    GOFLAGS="-trimpath -buildvcs=false '-ldflags=-s -w -X=github.com/rowgate/rowgate/internal/buildinfo.version=${VERSION} -X=github.com/rowgate/rowgate/internal/buildinfo.revision=${REVISION}'" \
    GOPATH=/go \
    GOCACHE=/tmp/go-build \
    TMPDIR=/tmp \
    PATH=/usr/local/go/bin:/go/bin:/usr/bin:/bin
# WORKDIR creates the folders: a toolchain image made from scratch has no /tmp.
WORKDIR /tmp
WORKDIR /src
COPY . .
# The cache mounts keep downloaded modules and compiled packages between
# builds (BuildKit, buildah), so a rebuild after an edit takes seconds.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/tmp/go-build \
    ["go", "build", "-o", "/out/rowgate", "./cmd/rowgate"]

FROM scratch
ARG VERSION
ARG REVISION
LABEL org.opencontainers.image.title="rowgate" \
      org.opencontainers.image.description="A Go HTTP data service in which PostgreSQL row level security decides who owns what" \
      org.opencontainers.image.source="https://github.com/rowgate/rowgate" \
      org.opencontainers.image.url="https://github.com/rowgate/rowgate" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# CA roots for JWKS over HTTPS and TLS to PostgreSQL (Neon): Go reads this
# file on Linux; SSL_CERT_FILE may name another.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rowgate /rowgate
# A numeric non-root user, so Kubernetes' runAsNonRoot can check it; the
# image has no /etc/passwd to name it in. 65532 is distroless's "nonroot".
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/rowgate", "healthcheck"]
ENTRYPOINT ["/rowgate"]
CMD ["serve"]
