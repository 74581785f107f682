# Shell helpers that write tiny IDX datasets for the CLI tests (sourced, not run).
# IDX files: a big-endian header (magic, dimensions) and unsigned bytes.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
write_images() {  # FILE COUNT BYTES_OF_PIXELS
  { be32 2051; be32 "$2"; be32 28; be32 28; head -c "$3" /dev/zero | tr '\0' '\100'; } >"$1"
}
write_labels() {  # FILE COUNT
  { be32 2049; be32 "$2"; for ((i = 0; i < $2; ++i)); do printf "\\x$(printf %02x $((i % 10)))"; done; } >"$1"
}
# A version-1.0 .npy of uint8 with the given shape text, e.g. "(20, 28, 28)", and
# the bytes of DATA_FILE from byte OFFSET on (an IDX payload starts at byte 17).
write_npy_u8() {  # FILE SHAPE DATA_FILE OFFSET
  local header="{'descr': '|u1', 'fortran_order': False, 'shape': $2, }"
  while (((10 + ${#header} + 1) % 64)); do header+=" "; done
  header+=$'\n'
  { printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $((${#header} & 255)))\\x$(printf %02x $((${#header} >> 8)))"
    printf '%s' "$header"
    tail -c +"$4" "$3"; } >"$1"
}
