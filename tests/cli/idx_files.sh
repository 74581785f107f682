# Shell helpers that write tiny IDX datasets for the CLI tests (sourced, not run).
# IDX files: a big-endian header (magic, dimensions) and unsigned bytes.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
write_images() {  # FILE COUNT BYTES_OF_PIXELS
  { be32 2051; be32 "$2"; be32 28; be32 28; head -c "$3" /dev/zero | tr '\0' '\100'; } >"$1"
}
write_labels() {  # FILE COUNT
  { be32 2049; be32 "$2"; for ((i = 0; i < $2; ++i)); do printf "\\x$(printf %02x $((i % 10)))"; done; } >"$1"
}
