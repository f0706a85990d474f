#!/usr/bin/env bash
# Installs kind, kubectl and helm at the versions pinned in cluster/versions.yaml into DIR
# (default: .bin/ of the current directory), so that CI and every developer run the same
# binaries Renovate bumps. Each download is checked against the sha256 that upstream
# publishes beside it; a tool already there at its version is skipped.
#
# Usage: netconform tools [DIR] (make tools in a checkout) && export PATH="$PWD/.bin:$PATH"
set -euo pipefail

bin="${1:-$PWD/.bin}"
shown="$(basename "$bin")/"

die() {
  echo "install-tools: $*" >&2
  exit 1
}

# $1's pinned version, read by netconform's own (single) reader of versions.yaml.
python="${NETCONFORM_PYTHON:-python3}"
pinned() {
  local v
  v="$("$python" -c 'import sys
from netconform.versions import load_versions, version
print(version(load_versions(), sys.argv[1]))' "$1" 2>/dev/null)" ||
    die "no $1.version in the pins (or no netconform at $python)"
  echo "$v"
}

# fetch URL FILE: fail with what went wrong, not curl's exit code alone.
fetch() {
  local rc=0
  curl --fail --silent --show-error --location --retry 2 --connect-timeout 20 \
    --output "$2" "$1" || rc=$?
  case "$rc" in
    0) ;;
    5 | 6 | 7 | 28 | 35) die "cannot reach $1 (curl exit $rc): is the network reachable?" ;;
    22) die "$1 answered with an HTTP error: does that version exist?" ;;
    *) die "download of $1 failed (curl exit $rc)" ;;
  esac
}

# verify FILE SUMFILE: the sum file's first field is the sha256 (kind, helm: `HASH  NAME`;
# kubectl: `HASH` alone).
verify() {
  local want got
  read -r want _ <"$2" || true
  got="$(sha256sum "$1")"
  got="${got%% *}"
  [[ -n "$want" && "$got" == "$want" ]] ||
    die "sha256 mismatch for $(basename "$1"): expected '$want', got '$got'"
}

# present NAME VERSION ARGS...: NAME in DIR reports VERSION (not a longer one, e.g. v1.2.10
# for v1.2.1) when run with ARGS.
present() {
  local name="$1" version="$2" out
  shift 2
  [[ -x "$bin/$name" ]] || return 1
  out="$("$bin/$name" "$@" 2>/dev/null)" || return 1
  [[ "$out " == *"$version"[!0-9.]* ]]
}

[[ "$(uname -s)" == Linux ]] || die "linux only, not $(uname -s)"
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "unsupported architecture $(uname -m): linux amd64 or arm64 only" ;;
esac

command -v curl >/dev/null || die "curl is required"
mkdir -p "$bin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# install_binary NAME URL CHECKSUM-URL VERSION-ARGS...: a single-file release.
install_binary() {
  local name="$1" url="$2" sums="$3" v
  shift 3
  v="$(pinned "$name")"
  if present "$name" "$v" "$@"; then
    echo "$name $v: already in $shown"
    return
  fi
  fetch "$url" "$tmp/$name"
  fetch "$sums" "$tmp/$name.sum"
  verify "$tmp/$name" "$tmp/$name.sum"
  install -m 0755 "$tmp/$name" "$bin/$name"
  echo "$name $v: installed (sha256 verified)"
}

kind_url="https://github.com/kubernetes-sigs/kind/releases/download/$(pinned kind)/kind-linux-$arch"
install_binary kind "$kind_url" "$kind_url.sha256sum" version
kubectl_url="https://dl.k8s.io/release/$(pinned kubectl)/bin/linux/$arch/kubectl"
install_binary kubectl "$kubectl_url" "$kubectl_url.sha256" version --client

v="$(pinned helm)"
if present helm "$v" version --short; then
  echo "helm $v: already in $shown"
else
  tarball="helm-$v-linux-$arch.tar.gz"
  fetch "https://get.helm.sh/$tarball" "$tmp/$tarball"
  fetch "https://get.helm.sh/$tarball.sha256sum" "$tmp/$tarball.sha256sum"
  verify "$tmp/$tarball" "$tmp/$tarball.sha256sum"
  tar -xzf "$tmp/$tarball" -C "$tmp" "linux-$arch/helm"
  install -m 0755 "$tmp/linux-$arch/helm" "$bin/helm"
  echo "helm $v: installed (sha256 verified)"
fi
