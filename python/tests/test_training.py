"""Training runs, checkpoints and the doctor from Python (ctest python.unittest). The runs are a
few steps of the Fashion-MNIST MLP, skipped when the data set (Debian's dataset-fashion-mnist) is
not installed; error handling is tested without data."""
import json
import math
import os
import tempfile
import unittest

import numpy as np

import mixtrain

FASHION_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
SMALL = dict(steps=6, batch=64, eval_batches=2, stats_every=2, threads=2)


@unittest.skipUnless(os.path.exists(FASHION_MNIST), "needs dataset-fashion-mnist")
class TrainingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.run_dir = os.path.join(cls.tmp.name, "bf16")
        cls.summary = mixtrain.train("mlp", "bf16", out=cls.run_dir, seed=3, **SMALL)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_train_returns_the_summary(self):
        self.assertIsInstance(self.summary, dict)
        self.assertTrue(math.isfinite(self.summary["final_train_loss"]))
        self.assertIn("test_accuracy", self.summary)
        self.assertTrue(os.path.exists(os.path.join(self.run_dir, "summary.json")))

    def test_load_checkpoint_gives_numpy_arrays(self):
        ckpt = mixtrain.load_checkpoint(self.run_dir)
        weights = {k: v for k, v in ckpt.items() if k.startswith("model.")}
        self.assertTrue(weights)
        for name, w in weights.items():
            self.assertEqual(w.dtype, np.float32, name)  # bf16 decoded exactly
            self.assertTrue(np.all(np.isfinite(w)), name)
        # The masters are fp32; the bf16 weights are the masters rounded to bf16.
        name = next(k for k in weights if k.endswith("weight"))
        master = ckpt["master." + name[len("model."):]]
        np.testing.assert_array_equal(weights[name], mixtrain.convert(master, "bf16"))
        raw = mixtrain.load_checkpoint(os.path.join(self.run_dir, "checkpoint.safetensors"), raw=True)
        self.assertEqual(raw[name].dtype, np.uint16)
        np.testing.assert_array_equal(mixtrain.decode(raw[name], "bf16"), weights[name])
        meta = mixtrain.checkpoint_metadata(self.run_dir)
        self.assertEqual(json.loads(meta["run"])["step"], SMALL["steps"])

    def test_doctor_returns_findings(self):
        report = mixtrain.doctor(self.run_dir)
        self.assertTrue(report["finished"])
        self.assertEqual(report["steps"], SMALL["steps"])
        self.assertIsInstance(report["findings"], list)
        for f in report["findings"]:
            self.assertIn("rule", f)
            self.assertIn(f["severity"], ("problem", "warning", "note"))
        # A healthy bf16 run: no problems (its memory finding is a note), as `mixtrain doctor --json`.
        self.assertEqual(report["problems"], 0)
        self.assertEqual(sum(1 for f in report["findings"] if f["severity"] == "note"), report["notes"])

    def test_compare_runs_each_precision(self):
        with tempfile.TemporaryDirectory() as out:
            result = mixtrain.compare("mlp", ["fp32", "fp16"], out=out, **SMALL)
            self.assertEqual([r["name"] for r in result["runs"]], ["fp32", "fp16"])
            self.assertIn("schema_version", result)
            self.assertTrue(os.path.exists(os.path.join(out, "fp16", "checkpoint.safetensors")))
            self.assertTrue(os.path.exists(os.path.join(out, "summary.json")))


class TrainingErrorsTest(unittest.TestCase):
    def test_bad_settings_raise_mixtrain_error(self):
        with tempfile.TemporaryDirectory() as out:
            with self.assertRaisesRegex(mixtrain.Error, "mlpx"):
                mixtrain.train("mlpx", out=out)
            with self.assertRaisesRegex(mixtrain.Error, "fp7"):
                mixtrain.train("mlp", "fp7", out=out)
            with self.assertRaisesRegex(mixtrain.Error, r"steps must be an integer in \[1, "):
                mixtrain.train("mlp", out=out, steps=0)
            with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'stpes'"):
                mixtrain.train("mlp", out=out, stpes=5)
            with self.assertRaisesRegex(TypeError, "batch must be an int, got str"):
                mixtrain.train("mlp", out=out, batch="64")
            with self.assertRaisesRegex(mixtrain.Error, "twice"):
                mixtrain.compare("mlp", ["fp32", "fp32"], out=out)

    def test_missing_or_corrupt_files(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(mixtrain.Error):
                mixtrain.doctor(os.path.join(d, "nope"))
            with self.assertRaisesRegex(mixtrain.Error, "checkpoint.safetensors"):
                mixtrain.load_checkpoint(d)
            bad = os.path.join(d, "bad.safetensors")
            with open(bad, "wb") as f:
                f.write(b"\xff" * 16)
            with self.assertRaises(mixtrain.Error):
                mixtrain.load_checkpoint(bad)
            with self.assertRaises(mixtrain.Error):
                mixtrain.load_checkpoint(os.path.join(d, "missing.safetensors"))

    def test_failure_is_an_error(self):
        self.assertTrue(issubclass(mixtrain.Failure, mixtrain.Error))
        self.assertTrue(issubclass(mixtrain.Error, ValueError))


if __name__ == "__main__":
    unittest.main()
