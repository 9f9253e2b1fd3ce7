"""mixtrain's number formats from Python: exact conversions, codes, statistics, and clear errors
for bad arguments (run by ctest as python.unittest, with PYTHONPATH at the built module)."""
import unittest

import numpy as np

import mixtrain


class ConvertTest(unittest.TestCase):
    def test_known_values(self):
        x = np.array([3.14159265, 1.0, -0.0, 2.0**-100, 500.0], dtype=np.float32)
        np.testing.assert_array_equal(mixtrain.convert(x, "bf16"), np.array([3.140625, 1, -0.0, 2.0**-100, 500], np.float32))
        # e4m3: 3 mantissa bits, max 448, saturating by default.
        np.testing.assert_array_equal(mixtrain.convert(x, "e4m3"), np.array([3.25, 1, 0, 0, 448], np.float32))
        self.assertTrue(np.signbit(mixtrain.convert(x, "e4m3")[2]))

    def test_codes_round_trip(self):
        x = np.linspace(-4, 4, 101, dtype=np.float32).reshape(101, 1)
        codes = mixtrain.encode(x, "fp16")
        self.assertEqual(codes.dtype, np.uint16)
        self.assertEqual(codes.shape, (101, 1))
        # fp16 codes are numpy's own float16 bits.
        np.testing.assert_array_equal(codes, x.astype(np.float16).view(np.uint16))
        np.testing.assert_array_equal(mixtrain.decode(codes, "fp16"), x.astype(np.float16).astype(np.float32))
        self.assertEqual(mixtrain.encode(x, "e5m2").dtype, np.uint8)
        self.assertEqual(mixtrain.decode(codes, "fp16", dtype="float64").dtype, np.float64)

    def test_float64_input_keeps_its_dtype(self):
        x = np.array([1.0 + 2.0**-30, 2.0], dtype=np.float64)
        y = mixtrain.convert(x, "fp32")
        self.assertEqual(y.dtype, np.float64)
        np.testing.assert_array_equal(y, [1.0, 2.0])

    def test_rounding_modes(self):
        x = np.full(10000, 1.0 + 2.0**-9, dtype=np.float32)  # between two bf16 neighbours, 1/4 of the way up
        self.assertTrue(np.all(mixtrain.convert(x, "bf16", rounding="nearest") == 1.0))
        self.assertTrue(np.all(mixtrain.convert(x, "bf16", rounding="toward_zero") == 1.0))
        s = mixtrain.convert(x, "bf16", rounding="stochastic", seed=1)
        self.assertTrue(set(np.unique(s)) <= {1.0, 1.0 + 2.0**-7})
        self.assertAlmostEqual(float(np.mean(s == 1.0 + 2.0**-7)), 0.25, delta=0.03)
        # Seeded: the same seed gives the same bits, another seed others.
        np.testing.assert_array_equal(s, mixtrain.convert(x, "bf16", rounding="stochastic", seed=1))
        self.assertFalse(np.array_equal(s, mixtrain.convert(x, "bf16", rounding="stochastic", seed=2)))

    def test_saturate_and_scale(self):
        x = np.array([1000.0, -1000.0], dtype=np.float32)
        np.testing.assert_array_equal(mixtrain.convert(x, "e4m3"), [448, -448])
        self.assertTrue(np.all(np.isnan(mixtrain.convert(x, "e4m3", saturate=False))))
        self.assertTrue(np.all(np.isinf(mixtrain.convert(np.float32([1e6]), "fp16"))))
        np.testing.assert_array_equal(mixtrain.convert(np.float32([1e6]), "fp16", saturate=True), [65504])
        np.testing.assert_array_equal(mixtrain.convert(np.float32([3.0]), "e4m3", scale=0.5), [1.5])

    def test_empty_and_multidimensional(self):
        self.assertEqual(mixtrain.convert(np.zeros((0,), np.float32), "bf16").shape, (0,))
        self.assertEqual(mixtrain.convert(np.ones((2, 3, 4), np.float32), "e5m2").shape, (2, 3, 4))


class StatsTest(unittest.TestCase):
    def test_fp16_fractions_and_histogram(self):
        x = np.array([1e-9, 1e-6, 1.0, 2.0, 3.0, 1e6, 0.0, np.nan], dtype=np.float32)
        s = mixtrain.stats(x, "fp16")
        self.assertEqual(s["count"], 8)
        self.assertEqual((s["flush"], s["subnormal"], s["overflow"], s["zeros"], s["nans"]), (1, 1, 1, 1, 1))
        self.assertAlmostEqual(s["overflow_fraction"], 1 / 8)
        self.assertEqual(s["exponent_histogram"][0], 1)  # 1.0
        self.assertEqual(s["exponent_histogram"][1], 2)  # 2.0 and 3.0
        self.assertEqual(s["exponent_histogram"][19], 1)  # 1e6 ~ 2^19.9
        self.assertTrue(np.isnan(s["amax"]))

    def test_format_info(self):
        self.assertEqual(mixtrain.format_info("e4m3")["max"], 448.0)
        self.assertEqual(mixtrain.format_info("fp16")["min_subnormal"], 2.0**-24)
        self.assertEqual(mixtrain.formats(), ["fp64", "fp32", "fp16", "bf16", "e4m3", "e5m2"])


class BadArgumentsTest(unittest.TestCase):
    def test_unknown_format_and_rounding(self):
        x = np.ones(4, np.float32)
        with self.assertRaisesRegex(mixtrain.Error, "unknown format 'fp7'.*e4m3"):
            mixtrain.convert(x, "fp7")
        with self.assertRaisesRegex(ValueError, "unknown rounding 'up'"):
            mixtrain.convert(x, "bf16", rounding="up")

    def test_wrong_dtype_type_and_layout(self):
        with self.assertRaisesRegex(TypeError, "dtype float32 or float64, got int64"):
            mixtrain.convert(np.arange(4), "bf16")
        with self.assertRaisesRegex(TypeError, "must be a numpy array.*got list"):
            mixtrain.convert([1.0, 2.0], "bf16")
        with self.assertRaisesRegex(ValueError, "C-contiguous"):
            mixtrain.convert(np.ones((4, 4), np.float32)[:, 1], "bf16")
        with self.assertRaisesRegex(TypeError, "dtype float32, got float64"):
            mixtrain.stats(np.ones(4), "fp16")
        with self.assertRaisesRegex(TypeError, "codes of e4m3 must have dtype uint8"):
            mixtrain.decode(np.zeros(4, np.uint16), "e4m3")

    def test_bad_scale_is_an_error_not_a_crash(self):
        with self.assertRaises(mixtrain.Error):
            mixtrain.convert(np.ones(4, np.float32), "e4m3", scale=float("nan"))


if __name__ == "__main__":
    unittest.main()
