#!/usr/bin/env bash
# Create the virtualenv that benchmarks/vad.py runs in: gabortag plus its peers
# (silero-vad 6.2 run through onnxruntime, TEN VAD, earshot, webrtcvad).
#
#   bash benchmarks/setup_peers.sh [VENV] [REPO]
#
# VENV defaults to REPO/.venv-peers (ignored by git), REPO (the gabortag checkout) to this
# script's parent.
# Everything comes from PyPI through pip. torch is installed FIRST and pinned to 2.13.0 (a CPU
# wheel; other torch versions pull gigabytes of CUDA libraries), and every later pip call runs
# under a constraints file so that nothing can upgrade or replace it.
set -euo pipefail

REPO="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="${1:-$REPO/.venv-peers}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="2.13.0"
SILERO_VERSION="6.2.3"
TEN_VAD_VERSION="1.0.6.9"
EARSHOT_VERSION="1.2.2"

echo "venv: $VENV"
echo "repo: $REPO"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install --quiet --upgrade pip

CONSTRAINTS="$VENV/peers-constraints.txt"
echo "torch==$TORCH_VERSION" > "$CONSTRAINTS"

# 1. torch alone, first (silero_vad imports torch at package import, even for the ONNX model).
"${PIP[@]}" install "torch==$TORCH_VERSION"

# 2. silero-vad: its base requirements are only torch and packaging (torchaudio is an extra
#    that we do not want). Refuse to go on if pip would touch torch or pull torchaudio.
plan="$("${PIP[@]}" install --dry-run -c "$CONSTRAINTS" "silero-vad==$SILERO_VERSION" 2>&1 || true)"
echo "$plan" | grep -E "Would install|ERROR" || true
if echo "$plan" | grep -q "^ERROR" || echo "$plan" | grep -Eq "Would install.*(torch-|torchaudio|nvidia)"; then
    echo "silero-vad would change torch or pull torchaudio/CUDA: installing it with --no-deps" >&2
    "${PIP[@]}" install -c "$CONSTRAINTS" packaging
    "${PIP[@]}" install --no-deps "silero-vad==$SILERO_VERSION"
else
    "${PIP[@]}" install -c "$CONSTRAINTS" "silero-vad==$SILERO_VERSION"
fi

# 3. the other peers and the benchmark's own needs.
"${PIP[@]}" install -c "$CONSTRAINTS" webrtcvad-wheels onnxruntime numpy soundfile soxr \
    "ten-vad==$TEN_VAD_VERSION" "earshot==$EARSHOT_VERSION"

# 3b. TEN VAD's native library links libc++.so.1, which many systems lack. If so, unpack the
#     Debian runtime packages (no root needed) into VENV/native; benchmarks/vad.py preloads them.
if ! ldconfig -p 2>/dev/null | grep -q "libc++.so.1 "; then
    NATIVE="$VENV/native"
    mkdir -p "$NATIVE/debs"
    (
        cd "$NATIVE/debs"
        apt-get download libc++1-19 libc++abi1-19 libunwind-19
        for deb in *.deb; do dpkg-deb -x "$deb" x/; done
    )
    cp -P "$NATIVE"/debs/x/usr/lib/llvm-19/lib/lib*.so.1* "$NATIVE"/
    echo "libc++ for TEN VAD unpacked into $NATIVE"
fi

# 4. gabortag itself, editable (runtime deps: numpy soundfile soxr onnxruntime typer rich).
"${PIP[@]}" install -c "$CONSTRAINTS" -e "$REPO"

# 5. check: torch is still the pinned CPU build, and every peer imports.
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
import torch, onnxruntime, webrtcvad, soundfile, soxr, numpy, earshot  # noqa: F401
import ten_vad  # noqa: F401
import silero_vad  # noqa: F401
import gabortag.tasks.vad.evaluate  # noqa: F401
tv = torch.__version__
assert tv.startswith("2.13.0"), f"torch was changed to {tv}"
print("torch", tv, "| silero-vad", md.version("silero-vad"), "| webrtcvad-wheels",
      md.version("webrtcvad-wheels"), "| ten-vad", md.version("ten-vad"), "| earshot",
      md.version("earshot"), "| onnxruntime", onnxruntime.__version__)
EOF
echo "ready: $VENV/bin/python $REPO/benchmarks/vad.py"
