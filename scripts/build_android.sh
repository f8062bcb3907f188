#!/usr/bin/env bash
# Cross-builds etvk's Rust static library for Android with the NDK (plain cargo, the NDK's
# clang as C/C++ compiler and linker), and lays out what an Android build links:
#
#   OUT/include/etvk.h                     the C ABI
#   OUT/src/etvk_backend.cpp               the registration ("VulkanBackend"): compile it in
#                                          the Android build, against the same ExecuTorch
#                                          headers and definitions as the AAR's runtime
#   OUT/<abi>/libetvk.a                    the Rust static library (arm64-v8a, armeabi-v7a)
#   OUT/<abi>/native-static-libs.txt       system libraries it needs (rustc's list)
#
# Usage: ANDROID_NDK_HOME=/path/to/ndk scripts/build_android.sh [--api N] [--out DIR] [TARGET...]
#   TARGET: aarch64-linux-android (default) and/or armv7-linux-androideabi
#   --api N: minimum Android API level (default 28; Vulkan needs 24+)
#   --out DIR: default target/android
# Needs: the NDK (r25 or newer), `rustup target add <TARGET>`, and glslc (the host's, or the
# NDK's shader-tools/<host>/glslc, used when none is on PATH). README.md, "Android", shows how to
# link the result into ExecuTorch's Android AAR / a JNI library.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
API=28
OUT="$ROOT/target/android"
TARGETS=()
while (($#)); do
  case "$1" in
    --api) API="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "build_android: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
((${#TARGETS[@]})) || TARGETS=(aarch64-linux-android armv7-linux-androideabi)

die() { echo "build_android: $*" >&2; exit 2; }

NDK="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-${ANDROID_NDK:-}}}"
[[ -n "$NDK" ]] || die "set ANDROID_NDK_HOME to the Android NDK (r25 or newer)"
case "$(uname -s)" in
  Linux) HOST_TAG=linux-x86_64 ;;
  Darwin) HOST_TAG=darwin-x86_64 ;; # the NDK's macOS toolchain is universal under this name
  *) die "unsupported build host $(uname -s)" ;;
esac
BIN="$NDK/toolchains/llvm/prebuilt/$HOST_TAG/bin"
[[ -x "$BIN/llvm-ar" ]] || die "$BIN/llvm-ar not found: is $NDK an NDK r25 or newer?"
[[ "$API" =~ ^[0-9]+$ && "$API" -ge 24 ]] || die "--api $API: Vulkan compute needs API 24 or newer"

if [[ -z "${GLSLC:-}" ]] && ! command -v glslc >/dev/null; then
  GLSLC="$(ls "$NDK"/shader-tools/*/glslc 2>/dev/null | head -n1 || true)"
  [[ -n "$GLSLC" ]] || die "no glslc on PATH and none under $NDK/shader-tools"
  export GLSLC
fi

installed="$(rustup target list --installed 2>/dev/null || true)"
for t in "${TARGETS[@]}"; do
  case "$t" in
    aarch64-linux-android) abi=arm64-v8a; clang="aarch64-linux-android$API-clang" ;;
    armv7-linux-androideabi) abi=armeabi-v7a; clang="armv7a-linux-androideabi$API-clang" ;;
    *) die "unsupported target $t (aarch64-linux-android, armv7-linux-androideabi)" ;;
  esac
  grep -qx "$t" <<<"$installed" || die "Rust target $t is not installed: rustup target add $t"
  [[ -x "$BIN/$clang" ]] || die "$BIN/$clang not found (API $API not in this NDK?)"

  # cc-rs (VMA's C++ in vk-mem) and cargo read these per target.
  env_t="${t//-/_}"
  upper="$(tr '[:lower:]' '[:upper:]' <<<"$env_t")"
  export "CC_$env_t=$BIN/$clang" "CXX_$env_t=$BIN/$clang++" "AR_$env_t=$BIN/llvm-ar"
  export "CARGO_TARGET_${upper}_LINKER=$BIN/$clang"

  echo "== $t ($abi, API $API)"
  log="$(mktemp)"
  # Only the staticlib: the cdylib and rlib are not needed on Android.
  (cd "$ROOT" && cargo rustc --release --lib --target "$t" --crate-type staticlib \
    -- --print native-static-libs) 2>&1 | tee "$log"
  mkdir -p "$OUT/$abi"
  cp "$ROOT/target/$t/release/libetvk.a" "$OUT/$abi/libetvk.a"
  sed -n 's/.*native-static-libs: //p' "$log" | tail -n1 >"$OUT/$abi/native-static-libs.txt"
  rm -f "$log"
  echo "   $OUT/$abi/libetvk.a (needs: $(cat "$OUT/$abi/native-static-libs.txt"))"
done

mkdir -p "$OUT/include" "$OUT/src"
cp "$ROOT/include/etvk.h" "$OUT/include/"
cp "$ROOT/cpp_shim/etvk_backend.cpp" "$OUT/src/"
echo "build_android: done; link as README.md, \"Android\", shows"
