#!/bin/sh
# Trunk post_build hook: writes a hash of the workers' files (the service worker's
# wasm-bindgen output worker.js + worker_bg.wasm, then the live worker's live.js,
# live-worker.js + live-worker_bg.wasm, and the settings panel's settings-panel.js +
# settings-panel_bg.wasm, which the service worker's app shell serves) into
# sw.js, in Trunk's staging directory, so sw.js changes whenever either worker does (browsers
# compare sw.js byte for byte to find a new release). sw.js checks its shell against the same
# files in the same order (BUILD_FILES).
# Anything missing fails the build: a dist without a working service worker must never ship.
set -eu
dir="${TRUNK_STAGING_DIR:?not run by Trunk}"
cd "$dir"
files="worker.js worker_bg.wasm live.js live-worker.js live-worker_bg.wasm settings-panel.js settings-panel_bg.wasm"
for file in $files sw.js; do
  if [ ! -s "$file" ]; then
    echo "stamp-sw.sh: $file is missing in $dir (did the worker build fail?)" >&2
    exit 1
  fi
done
# shellcheck disable=SC2086 # the list splits into its file names on purpose
build="$(cat $files | sha256sum | cut -c1-16)"
sed -i "s/@WORKER_BUILD@/${build}/g" sw.js
if ! grep -q "const WORKER_BUILD = '${build}';" sw.js; then
  echo "stamp-sw.sh: could not stamp the build ${build} into sw.js" >&2
  exit 1
fi
echo "stamp-sw.sh: sw.js stamped with worker build ${build}"
