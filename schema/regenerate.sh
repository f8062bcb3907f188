#!/usr/bin/env bash
# Regenerates src/format/schema_generated.rs from schema/schema.fbs with the flatc that ships in
# the executorch wheel (24.3.25), so the generated code matches what the exporter uses.
#
# schema/schema.fbs is a verbatim copy of
#   .venv/lib/python3.11/site-packages/executorch/backends/vulkan/serialization/schema.fbs
# (wire compatibility: same names, field order, types, defaults, union tags, identifier VK00).
#
# Usage: schema/regenerate.sh            (from anywhere; paths are relative to the repo root)
#        FLATC=/path/to/flatc schema/regenerate.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FLATC="${FLATC:-.venv/lib/python3.11/site-packages/executorch/data/bin/flatc}"
if [[ ! -x "$FLATC" ]]; then
  echo "flatc not found at $FLATC (install the executorch wheel into .venv or set FLATC)" >&2
  exit 1
fi

OUT="src/format/schema_generated.rs"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$FLATC" --rust -o "$TMP" schema/schema.fbs

# Post-processing (keep it minimal and reproducible):
#  - strip trailing whitespace so the committed file is diff-clean;
#  - spell out the elided lifetime in the root accessors (`VkGraph` -> `VkGraph<'_>`): flatc
#    24.3.25 output otherwise trips rustc's `mismatched_lifetime_syntaxes` warning on recent
#    toolchains. The code is otherwise used as generated; it builds against crate flatbuffers 25.
#  - verify `[long]`/`[double]` vectors with `LenientVector8` (src/format/lenient.rs): flatc
#    24.3.25 may place an empty 8-byte-element vector at a 4-aligned offset, which the Rust
#    verifier rejects (the C++ one accepts); reads are unaligned-safe, bounds still checked.
sed -e 's/[[:space:]]*$//' \
    -e "s/visit_field::<flatbuffers::ForwardsUOffset<flatbuffers::Vector<'_, \(i64\|f64\)>>>/visit_field::<flatbuffers::ForwardsUOffset<crate::format::lenient::LenientVector8>>/" \
    -e "s/(buf: &\[u8\]) -> Result<VkGraph, /(buf: \&[u8]) -> Result<VkGraph<'_>, /" \
    -e "s/(buf: &\[u8\]) -> VkGraph {/(buf: \&[u8]) -> VkGraph<'_> {/" \
    "$TMP/schema_generated.rs" > "$OUT"

echo "wrote $OUT ($("$FLATC" --version))"
