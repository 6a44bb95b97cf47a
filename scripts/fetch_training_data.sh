#!/usr/bin/env bash
# Download and unpack the Debian packages of real audio used to train the VAD model
# (speech in many languages, music as non-speech), without installing them.
#
#   bash scripts/fetch_training_data.sh [DIR]      # default DIR: ./extdata
#
# Leaves DIR/*.deb (their file names carry the exact versions, recorded in the model card)
# and the unpacked tree in DIR/x/usr/share/{klettres,asterisk,games/wesnoth}.
set -euo pipefail
DIR="${1:-extdata}"
PACKAGES=(
  klettres-data
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav
  asterisk-moh-opsound-wav wesnoth-1.16-music
)
mkdir -p "$DIR/x"
cd "$DIR"
if ! apt-cache show klettres-data >/dev/null 2>&1; then
  apt-get update -q
fi
for pkg in "${PACKAGES[@]}"; do
  ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg"
done
for deb in *.deb; do
  dpkg-deb -x "$deb" x/
done
echo "unpacked into $(pwd)/x"
