#!/usr/bin/env bash
# Builds the e2e control plane (kube-apiserver, kubectl, etcd) from the versions pinned in
# e2e/controlplane/go.mod into e2e/.cache/bin/, and does nothing when those are already built.
#
# A stamp file next to the binaries records what they were built from (pinned versions, Go
# version, hash of the module files and of the build flags); any change triggers a rebuild.
# Exit codes: 0 built or up to date, 3 no Go toolchain, anything else a real failure.
set -euo pipefail

readonly EXIT_NO_GO=3
readonly COMMANDS=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./cmd/etcd)
readonly BINARIES=(kube-apiserver kubectl etcd)

module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin_dir=$(dirname "$module_dir")/.cache/bin
stamp_file=$bin_dir/.build-stamp

log() { printf 'e2e/controlplane/build.sh: %s\n' "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

find_go() {
    if command -v go >/dev/null 2>&1; then
        command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then
        # The official tarball's location; non-login shells often lack it on PATH.
        echo /usr/local/go/bin/go
    else
        cat >&2 <<'EOF'
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!! e2e/controlplane/build.sh: no Go toolchain (`go` not on PATH, no /usr/local/go).
!!! The e2e control plane (kube-apiserver, kubectl, etcd) is built from source and
!!! needs Go >= 1.26. Without it the e2e tests skip (and fail when CI=true).
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
EOF
        exit "$EXIT_NO_GO"
    fi
}

# The module's version of a dependency as go.mod pins it, e.g. v1.36.3.
pinned_version() {
    "$GO" list -m -f '{{.Version}}' "$1"
}

# Every k8s.io staging module must be replaced by the v0.x.y tag matching v1.x.y, or the
# apiserver would be linked against libraries from another release.
check_staging_replaces() {
    local expected=v0.${kubernetes_version#v1.}
    local mismatched
    mismatched=$(awk -v want="$expected" \
        '$2 == "=>" && $3 ~ /^k8s\.io\// && $4 != want { print $1 " => " $4 }' go.mod)
    if [[ -n $mismatched ]]; then
        die "go.mod pins k8s.io/kubernetes $kubernetes_version, so every staging replace must" \
            "be $expected; these are not: $mismatched"
    fi
}

# Version stamping as the Kubernetes release build does it; without it the binaries report
# v0.0.0-master, and `kubectl version` could not show which release the tests run against.
version_ldflags() {
    local minor=${kubernetes_version#v1.}
    minor=${minor%%.*}
    local release_time
    release_time=$("$GO" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' \
        "k8s.io/kubernetes")
    local package key value flags=""
    for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        for key in gitVersion gitMajor gitMinor gitTreeState buildDate; do
            case $key in
                gitVersion) value=$kubernetes_version ;;
                gitMajor) value=1 ;;
                gitMinor) value=$minor ;;
                gitTreeState) value=clean ;;
                buildDate) value=$release_time ;;
            esac
            flags+=" -X $package.$key=$value"
        done
    done
    echo "$flags"
}

# What the binaries depend on; a different stamp means they must be rebuilt.
expected_stamp() {
    local inputs_hash
    inputs_hash=$(cat go.mod go.sum cmd/etcd/main.go <(echo "$gcflags $ldflags") | sha256sum)
    printf 'kubernetes %s\netcd %s\ngo %s\ninputs %s\n' \
        "$kubernetes_version" "$etcd_version" "$("$GO" env GOVERSION)" "${inputs_hash%% *}"
}

binaries_up_to_date() {
    local binary
    [[ -f $stamp_file ]] && [[ $(cat "$stamp_file") == "$stamp" ]] || return 1
    for binary in "${BINARIES[@]}"; do
        [[ -x $bin_dir/$binary ]] || return 1
    done
}

build_binaries() {
    # Build beside the final location and move in at the end, so an interrupted build never
    # leaves a half-updated bin/ that the stamp would vouch for.
    staging_dir=$(mktemp -d "$bin_dir/../build.XXXXXX") # global: the EXIT trap needs it
    trap 'rm -rf "$staging_dir"' EXIT

    log "downloading modules (go mod download)"
    "$GO" mod download

    log "building ${BINARIES[*]} with $("$GO" env GOVERSION) (cold: a few minutes on 2 cores)"
    local started=$SECONDS
    # One `go build` for all three: shared packages compile once, and both cores stay busy.
    # CGO_ENABLED=0 as in the Kubernetes release build: static binaries, no C toolchain.
    # GOGC=400 lets the compiler trade some of the plentiful memory for less GC time.
    CGO_ENABLED=0 GOGC=400 "$GO" build -trimpath -gcflags "$gcflags" -ldflags "$ldflags" \
        -o "$staging_dir/" "${COMMANDS[@]}"
    log "compiled in $((SECONDS - started))s"

    "$staging_dir/kube-apiserver" --version
    "$staging_dir/kubectl" version --client=true --output=yaml | grep gitVersion
    "$staging_dir/etcd" --version | sed -n 1p

    rm -f "$stamp_file"
    local binary
    for binary in "${BINARIES[@]}"; do
        mv -f "$staging_dir/$binary" "$bin_dir/$binary"
    done
    echo "$stamp" >"$stamp_file"
}

main() {
    GO=$(find_go)
    cd "$module_dir"
    # Reproducible, read-only use of the committed go.mod/go.sum.
    export GOFLAGS="-mod=readonly ${GOFLAGS:-}"

    kubernetes_version=$(pinned_version k8s.io/kubernetes)
    etcd_version=$(pinned_version go.etcd.io/etcd/server/v3)
    check_staging_replaces
    # -s -w drop the symbol table and DWARF at link time, so the compiler need not emit DWARF
    # either, which saves compile time on cold builds.
    gcflags="all=-dwarf=false"
    ldflags="-s -w$(version_ldflags)"
    stamp=$(expected_stamp)

    # Concurrent runs (two `make test` on one machine) take turns; the later one then finds
    # the binaries up to date instead of building them a second time.
    mkdir -p "$bin_dir"
    exec {lock_fd}>"$bin_dir/../build.lock"
    if ! flock --nonblock "$lock_fd"; then
        log "another build.sh is building; waiting for it"
        flock "$lock_fd"
    fi

    if binaries_up_to_date; then
        log "up to date: kubernetes $kubernetes_version, etcd $etcd_version in $bin_dir"
        return 0
    fi
    log "building kubernetes $kubernetes_version and etcd $etcd_version into $bin_dir"
    build_binaries
    log "done: $(tr '\n' ' ' <"$stamp_file")"
}

main "$@"
