# mixtrain from Python, a quick tour (CI runs this file: ctest python.quickstart_example).
# Run it with the built module on the path:
#   PYTHONPATH=build/release/python python3 examples/python_quickstart.py
# Each "# %%" starts a cell, so editors that understand them (VS Code, Jupytext) run it cell by cell.

# %% Number formats: what storing values in a low-precision format keeps.
import os
import tempfile

import numpy as np

import mixtrain

print("mixtrain", mixtrain.__version__)
x = np.array([3.14159265, 1e-3, 300.0, 1e5], dtype=np.float32)
for fmt in ["fp16", "bf16", "e4m3", "e5m2"]:
    print(f"{fmt:5}", mixtrain.convert(x, fmt))
# e4m3 saturates at 448 by default; saturate=False turns overflow into NaN (it has no inf).
print("e4m3 without saturation:", mixtrain.convert(x, "e4m3", saturate=False))
print("e4m3 limits:", {k: mixtrain.format_info("e4m3")[k] for k in ("max", "min_normal", "min_subnormal")})

# %% Codes and rounding. encode() gives the bits (uint8 for fp8, uint16 for fp16/bf16) and
# decode() reads them back. Stochastic rounding is seeded and reproducible: on average it keeps
# the value, where round-to-nearest always drops a small increment.
codes = mixtrain.encode(x, "e4m3")
print("e4m3 codes:", [f"0x{c:02x}" for c in codes], "->", mixtrain.decode(codes, "e4m3"))
small_step = np.full(100_000, 1.0 + 2.0**-10, dtype=np.float32)  # 1/8 of a bf16 step above 1
nearest = mixtrain.convert(small_step, "bf16")
stochastic = mixtrain.convert(small_step, "bf16", rounding="stochastic", seed=42)
print(f"mean after bf16 rounding: nearest {nearest.mean():.6f}, stochastic {stochastic.mean():.6f}, "
      f"exact {1 + 2**-10:.6f}")
assert nearest.mean() == 1.0 and abs(stochastic.mean() - (1 + 2**-10)) < 1e-4

# %% Statistics: would these gradients survive fp16? Tiny values flush to zero or turn subnormal;
# a loss scale shifts them up (scale=1024 here, as GradScaler would).
grads = (np.random.default_rng(0).standard_normal(100_000) * 1e-6).astype(np.float32)
for scale in (1.0, 1024.0):
    s = mixtrain.stats(grads, "fp16", scale=scale)
    print(f"fp16, scale {scale:6}: flushed {s['flush_fraction']:.2%}, subnormal {s['subnormal_fraction']:.2%}, "
          f"overflow {s['overflow_fraction']:.2%}")
hist = mixtrain.stats(grads, "fp16")["exponent_histogram"]
print("most common exponent:", max(hist, key=hist.get))

# %% Training: the same run as `mixtrain train --model mlp --precision bf16 ...`, returning the
# summary. Needs Fashion-MNIST (Debian's dataset-fashion-mnist, which scripts/install-deps.sh installs).
if os.path.exists("/usr/share/datasets/fashion-mnist"):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        summary = mixtrain.train("mlp", "bf16", out=run_dir, steps=20, batch=128, eval_batches=4, seed=1)
        print(f"bf16 MLP: final train loss {summary['final_train_loss']:.3f}, "
              f"test accuracy {summary['test_accuracy']:.1%}")

        # %% The doctor reads the run's metrics and says what went wrong, if anything.
        report = mixtrain.doctor(run_dir)
        print(f"doctor: {len(report['findings'])} finding(s)")
        for f in report["findings"]:
            print(" -", f["title"])

        # %% The checkpoint as numpy arrays: bf16 weights are decoded exactly to float32.
        ckpt = mixtrain.load_checkpoint(run_dir)
        for name, array in list(ckpt.items())[:4]:
            print(f"{name:40} {array.dtype} {array.shape}")
else:
    print("Fashion-MNIST is not installed; skipping the training cells")

# %% Errors are Python exceptions with one clear line: mixtrain.Error is a ValueError.
try:
    mixtrain.convert(x, "fp7")
except mixtrain.Error as e:
    print("mixtrain.Error:", e)
