#!/usr/bin/env bash
# Rebuilds the committed front end of the in-page mask detector (users never need node):
#   mask_pipeline.mjs               src/mask_pipeline.js + onnxruntime-web's wasm bundle, one ES module
#   ort-wasm-simd-threaded.wasm.gz  ONNX Runtime's WebAssembly (SIMD; run with one thread), gzipped
# Versions are pinned in package.json and package-lock.json (npm ci installs exactly those).
# import.meta.url is replaced by the page's address: anywidget loads a module from a blob:
# URL, against which onnxruntime-web's eager `new URL("...wasm", import.meta.url)` throws
# (microsoft/onnxruntime#27317); the .wasm is always handed over as bytes, never fetched.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
npx esbuild src/mask_pipeline.js --bundle --format=esm --minify --target=es2020 \
  --define:import.meta.url=self.location.href --legal-comments=eof --outfile=mask_pipeline.mjs
gzip -9 -n -c node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm > ort-wasm-simd-threaded.wasm.gz
cp node_modules/onnxruntime-web/LICENSE LICENSE-onnxruntime-web 2>/dev/null || true
sha256sum mask_pipeline.mjs ort-wasm-simd-threaded.wasm.gz
