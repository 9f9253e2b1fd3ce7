#!/usr/bin/env bash
# The main job: installs dependencies, builds, and shows what mixtrain does with numbers:
# every format's encoding of pi, then a round trip of a file through `mixtrain convert`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
bin=build/release/bin/mixtrain
out=build/demo
mkdir -p "$out"
"$bin" formats 3.14159
# 1M normally distributed fp32 values -> e4m3 (scaled into range) -> fp32, and the error.
python3 - "$out/weights.f32" <<'PY'
import random, struct, sys
random.seed(0)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<%df" % 1048576, *(random.gauss(0.0, 0.02) for _ in range(1048576))))
PY
"$bin" convert --to e4m3 --scale 4096 "$out/weights.f32" "$out/weights.e4m3"
"$bin" convert --from e4m3 --to fp32 --scale 0.000244140625 "$out/weights.e4m3" "$out/weights.back.f32"
python3 - "$out/weights.f32" "$out/weights.back.f32" <<'PY'
import struct, sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
n = len(a) // 4
x = struct.unpack("<%df" % n, a); y = struct.unpack("<%df" % n, b)
err = max(abs(p - q) / abs(p) for p, q in zip(x, y) if abs(p) > 1e-4)
print(f"round trip fp32 -> e4m3 (scale 4096) -> fp32 of {n} values: {len(a)} -> {n} bytes, "
      f"max relative error {err:.4f} (e4m3 bound 2^-4 = 0.0625 for normals)")
PY
