#!/usr/bin/env bash
# Builds dist/ppsync (linux), dist/ppsync.exe (windows) and the .deb and
# .rpm, with the version stamped into the binary.
#   packaging/build.sh [VERSION]      (default: git describe, else 0.0.0-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || true)}
version=${version:-0.0.0-dev}
case "$version" in [0-9]*) ;; *) version="0.0.0-$version" ;; esac
out=${PPSYNC_DIST:-dist}
mkdir -p "$out" packaging/.build
ldflags="-s -w -X github.com/ppsync/ppsync/internal/version.version=$version"
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$out/linux-$arch/ppsync" ./cmd/ppsync
done
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -ldflags "$ldflags" -o "$out/windows-amd64/ppsync.exe" ./cmd/ppsync
cp packaging/install-windows.ps1 "$out/windows-amd64/"
GOBIN="$PWD/packaging/.build" go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
for arch in amd64 arm64; do
  cp "$out/linux-$arch/ppsync" packaging/.build/ppsync
  for fmt in deb rpm; do
    PPSYNC_ARCH=$arch PPSYNC_VERSION=$version \
      packaging/.build/nfpm package --config packaging/nfpm.yaml --packager "$fmt" --target "$out/" >/dev/null
  done
done
rm -f packaging/.build/ppsync
ls -1 "$out"/*.deb "$out"/*.rpm
