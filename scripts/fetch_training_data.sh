#!/usr/bin/env bash
# Gather every real-audio source of the voice activity recipe into one folder, without
# installing anything: Debian packages are downloaded and unpacked, public repositories are
# cloned at fixed commits. Nothing here is redistributed by gabortag; see each source's licence
# (gabortag/training/recipes/vad_sources.py lists them, the model card quotes them).
#
#   bash scripts/fetch_training_data.sh [DIR]      # default DIR: ./extdata
#
# Leaves DIR/*.deb (their file names carry the exact versions), the unpacked packages in
# DIR/x/usr/share/..., and the repositories' audio in DIR/git/<name>/ (the layout that
# gabortag/training/recipes/vad_sources.py reads). About 3 GB of downloads; safe to run again.
set -euo pipefail
DIR="${1:-extdata}"
PACKAGES=(
  klettres-data ktuberling-data tuxpaint-stamps-default gcin-voice hedgewars-data
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav asterisk-moh-opsound-wav
  wesnoth-1.16-music wesnoth-1.16-data warzone2100-music frozen-bubble-data warmux-data
  lmms-common alsa-utils gnome-audio sound-icons tuxtype-data
)
# name  repository  commit  paths to keep
REPOS=(
  "speechocean762 https://github.com/jimbozhang/speechocean762 613968e3b0b789fc33936fb5eba1973176ba7d11 WAVE"
  "urbansound8k https://github.com/Alejandro-131004/AC-II 8f8b8f279a1f8b240a3b3019191229c225793e7a UrbanSound8K/audio"
  "speechbrain https://github.com/speechbrain/speechbrain 9c826ef3937bac885c8a6ca86c6889a30f256fb5 tests/samples"
  "librosa_data https://github.com/librosa/data 450cdd8a002c98e7bdbfebb309fc1ed024001f77 audio"
  "emgse https://github.com/eric-wang135/EMGSE 1090f029308dc202ad38be4cb0b52530c5bba59d noise"
  "pyaudioanalysis https://github.com/tyiannak/pyAudioAnalysis ae00ebd446d497dbbb654c40a71810e7fdf2cc1b pytests/test_data/3_class"
  "audiomentations https://github.com/iver56/audiomentations 73b94488279feda6542a2813c70ed0d00b49ee4f demo"
  "spatialaudio https://github.com/spatialaudio/selected-topics-in-audio-signal-processing-exercises ca28a2abb13f0da39949fa2a5e770d2cb662f4b4 data"
)

mkdir -p "$DIR/x" "$DIR/git"
cd "$DIR"
if ! apt-cache show ktuberling-data >/dev/null 2>&1; then
  apt-get update -q
fi
for pkg in "${PACKAGES[@]}"; do
  ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg"
done
for deb in *.deb; do
  dpkg-deb -x "$deb" x/
done
echo "unpacked $(ls *.deb | wc -l) packages into $(pwd)/x"

for entry in "${REPOS[@]}"; do
  read -r name url commit paths <<<"$entry"
  [ -d "git/$name" ] && continue
  tmp="git/.$name.clone"
  rm -rf "$tmp"
  git clone --quiet --filter=blob:none --no-checkout "$url" "$tmp"
  git -C "$tmp" sparse-checkout set --no-cone $paths
  git -C "$tmp" checkout --quiet "$commit"
  rm -rf "$tmp/.git"
  mv "$tmp" "git/$name"
  echo "git/$name: $url @ $commit ($paths)"
done
echo "ready: $(pwd)"
