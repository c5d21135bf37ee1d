#!/bin/sh
# Trunk post_build hook: writes a hash of the service worker's wasm-bindgen output
# (worker.js + worker_bg.wasm) into sw.js, in Trunk's staging directory, so sw.js changes
# whenever the worker does (browsers compare sw.js byte for byte to find a new release).
# Anything missing fails the build: a dist without a working service worker must never ship.
set -eu
dir="${TRUNK_STAGING_DIR:?not run by Trunk}"
cd "$dir"
for file in worker.js worker_bg.wasm sw.js; do
  if [ ! -s "$file" ]; then
    echo "stamp-sw.sh: $file is missing in $dir (did the worker build fail?)" >&2
    exit 1
  fi
done
build="$(cat worker.js worker_bg.wasm | sha256sum | cut -c1-16)"
sed -i "s/@WORKER_BUILD@/${build}/g" sw.js
if ! grep -q "const WORKER_BUILD = '${build}';" sw.js; then
  echo "stamp-sw.sh: could not stamp the build ${build} into sw.js" >&2
  exit 1
fi
echo "stamp-sw.sh: sw.js stamped with worker build ${build}"
