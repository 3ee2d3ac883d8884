#!/usr/bin/env bash
# Builds, into dist/ (or $PPSYNC_DIST):
#   linux-{amd64,arm64}/ppsync, windows-amd64/ppsync.exe,
#   the .deb and .rpm for both Linux architectures, and SHA256SUMS over all of them.
# The version is stamped into the binaries; the man page and the bash, zsh
# and fish completion are generated from the binary's own help, the Debian
# changelog from the git history.
#   packaging/build.sh [VERSION]      (default: git describe, else 0.0.0-dev)
# PPSYNC_MAINTAINER overrides the packages' maintainer field; PPSYNC_ARCHES
# (default "amd64 arm64") limits the Linux architectures built.
# Needs Go and the Go module proxy (or a warm module cache): nfpm is built
# from source. Everything intermediate goes to a private folder under
# $TMPDIR, so two builds at once do not meet.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || true)}
version=${version:-0.0.0-dev}
case "$version" in [0-9]*) ;; *) version="0.0.0-$version" ;; esac
out=${PPSYNC_DIST:-dist}
arches=${PPSYNC_ARCHES:-amd64 arm64}
export PPSYNC_MAINTAINER=${PPSYNC_MAINTAINER:-"ppsync maintainers <ppsync@users.noreply.github.com>"}
# Dates come from the last commit, so the same commit builds the same pages.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# nfpm reads its sources relative to its working folder: a private copy of
# the files nfpm.yaml names, with the generated ones in packaging/.build.
stage=$(mktemp -d "${TMPDIR:-/tmp}/ppsync-build.XXXXXX")
trap 'rm -rf "$stage"' EXIT
build=$stage/packaging/.build
mkdir -p "$build"
tar -cf - packaging/nfpm.yaml packaging/*.service packaging/config.toml packaging/env \
  packaging/copyright packaging/lintian-overrides packaging/scripts config.example.toml \
  monitoring/ppsync-alerts.yml monitoring/ppsync-alerts.test.yml monitoring/ppsync-dashboard.json | tar -C "$stage" -xf -
# The commit and its date are stamped too, for builds without the Go
# toolchain's own record of the checkout (a source tarball, -buildvcs=false).
commit=$(git rev-parse HEAD 2>/dev/null || true)
commit_date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || true)
pkg=github.com/ppsync/ppsync/internal/version
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.commitDate=$commit_date"
for arch in $arches; do
  # PIE: address-space randomisation, as Debian builds Go binaries.
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildmode=pie -ldflags "$ldflags" -o "$out/linux-$arch/ppsync" ./cmd/ppsync
done
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -ldflags "$ldflags" -o "$out/windows-amd64/ppsync.exe" ./cmd/ppsync

# The man page, from the help of a binary that runs here.
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$build/ppsync-host" ./cmd/ppsync
go run ./packaging/manpage -bin "$build/ppsync-host" -version "$version" \
  -date "$(date -u -d "@$epoch" +%Y-%m-%d 2>/dev/null || date -u -r "$epoch" +%Y-%m-%d)" >"$build/ppsync.1"
gzip -9nf "$build/ppsync.1"
# Shell completion, written by the binary from its own command table.
"$build/ppsync-host" completion bash >"$build/ppsync.bash"
"$build/ppsync-host" completion zsh >"$build/_ppsync"
"$build/ppsync-host" completion fish >"$build/ppsync.fish"

# The changelog: this version's commits since the last tag (at most 30).
range=HEAD
if tag=$(git describe --tags --abbrev=0 2>/dev/null); then range="$tag..HEAD"; fi
subjects=$(git log --no-merges --format=%s -n 30 "$range" 2>/dev/null || true)
[ -n "$subjects" ] || subjects="Release $version."
{
  printf 'ppsync (%s) unstable; urgency=medium\n\n' "$version"
  printf '%s\n' "$subjects" | while IFS= read -r s; do
    printf '%s\n' "$s" | fold -s -w 72 | sed -e 's/ *$//' -e '1s/^/  * /' -e '2,$s/^/    /'
  done
  printf '\n -- %s  %s\n' "$PPSYNC_MAINTAINER" "$(LC_ALL=C date -u -R -d "@$epoch" 2>/dev/null || LC_ALL=C date -u -R -r "$epoch")"
} | gzip -9n >"$build/changelog.gz"
# The same entry as the .rpm's %changelog, in nfpm's changelog format.
yq() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
{
  printf -- '- semver: %s\n' "$(yq "$version-1")" # the .rpm's version-release
  printf '  date: %s\n' "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$epoch" +%Y-%m-%dT%H:%M:%SZ)"
  printf '  packager: %s\n' "$(yq "$PPSYNC_MAINTAINER")"
  printf '  changes:\n'
  printf '%s\n' "$subjects" | while IFS= read -r s; do printf '    - note: %s\n' "$(yq "$s")"; done
} >"$build/changelog.yml"
{ cat "$stage/packaging/nfpm.yaml"; printf '\nchangelog: packaging/.build/changelog.yml\n'; } >"$stage/packaging/nfpm-rpm.yaml"

GOBIN="$build" go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
for arch in $arches; do
  cp "$out/linux-$arch/ppsync" "$build/ppsync"
  for fmt in deb rpm; do
    conf=packaging/nfpm.yaml
    [ "$fmt" = rpm ] && conf=packaging/nfpm-rpm.yaml
    (cd "$stage" && PPSYNC_ARCH=$arch PPSYNC_VERSION=$version \
      "$build/nfpm" package --config "$conf" --packager "$fmt" --target "$out/" >"$build/nfpm.log" 2>&1) \
      || { echo "nfpm could not build the $fmt for $arch:" >&2; cat "$build/nfpm.log" >&2; exit 1; }
  done
done

# Checksums of everything a user downloads, verifiable with: sha256sum -c SHA256SUMS
(
  cd "$out"
  files=$(ls ppsync_"$version"_*.deb ppsync-"$version"-*.rpm windows-amd64/ppsync.exe linux-*/ppsync)
  # shellcheck disable=SC2086
  sha256sum $files >SHA256SUMS
)
ls -1 "$out"/*.deb "$out"/*.rpm "$out/SHA256SUMS"
