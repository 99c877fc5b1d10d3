# syntax=docker/dockerfile:1
# A static, non-root image of the API. Not built in this project's CI (its
# machines have no Docker engine); see README "Docker".

# Build: CGO off gives a static binary (the SQLite driver is pure Go), so the
# image needs no libc. The migrations are embedded in it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/apisec . && mkdir /out/keys

# tools: the same binary beside a shell, for one-off steps that need one
# (compose.yaml makes the key pair once with it). Not for serving.
FROM busybox:1.37-musl AS tools
COPY --from=build /out/apisec /usr/local/bin/apisec
COPY --from=build --chown=65532:65532 /out/keys /keys
USER 65532:65532

# The image: no shell, no package manager, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/apisec /apisec
# A volume mounted here starts owned by the non-root user, who writes the keys.
COPY --from=build --chown=65532:65532 /out/keys /keys
USER nonroot:nonroot
# Production listens on all interfaces (HOST), port 8080 (PORT).
EXPOSE 8080
ENTRYPOINT ["/apisec"]
CMD ["serve"]
