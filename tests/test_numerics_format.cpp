// The format table: exact limits of each format and the dtype names the CLI accepts.
#include <gtest/gtest.h>

#include <cmath>

#include "numerics/format.h"

namespace mixtrain::numerics {
namespace {

TEST(Format, Limits) {
  EXPECT_EQ(max_value(spec(DType::fp16)), 65504.0);
  EXPECT_EQ(max_value(spec(DType::bf16)), 0x1.FEp127);
  EXPECT_EQ(max_value(spec(DType::e4m3)), 448.0);
  EXPECT_EQ(max_value(spec(DType::e5m2)), 57344.0);
  EXPECT_EQ(max_value(spec(DType::fp32)), 0x1.FFFFFEp127);
  EXPECT_EQ(min_normal(spec(DType::fp16)), 0x1p-14);
  EXPECT_EQ(min_subnormal(spec(DType::fp16)), 0x1p-24);
  EXPECT_EQ(min_normal(spec(DType::e4m3)), 0x1p-6);
  EXPECT_EQ(min_subnormal(spec(DType::e4m3)), 0x1p-9);
  EXPECT_EQ(min_normal(spec(DType::e5m2)), 0x1p-14);
  EXPECT_EQ(min_subnormal(spec(DType::e5m2)), 0x1p-16);
  EXPECT_EQ(min_subnormal(spec(DType::bf16)), 0x1p-133);
  EXPECT_EQ(epsilon(spec(DType::bf16)), 0x1p-7);
  EXPECT_EQ(epsilon(spec(DType::e4m3)), 0.125);
}

TEST(Format, SpecialCodes) {
  EXPECT_EQ(spec(DType::fp16).inf_code(), 0x7C00u);
  EXPECT_EQ(spec(DType::fp16).nan_code(), 0x7E00u);
  EXPECT_EQ(spec(DType::bf16).nan_code(), 0x7FC0u);
  EXPECT_EQ(spec(DType::e5m2).inf_code(), 0x7Cu);
  EXPECT_EQ(spec(DType::e4m3).nan_code(), 0x7Fu);
  EXPECT_FALSE(spec(DType::e4m3).has_inf());
  EXPECT_EQ(spec(DType::e4m3).default_overflow, Overflow::saturate);
  EXPECT_EQ(spec(DType::e5m2).default_overflow, Overflow::saturate);
  EXPECT_EQ(spec(DType::fp16).default_overflow, Overflow::inf);
  EXPECT_EQ(spec(DType::bf16).default_overflow, Overflow::inf);
}

TEST(Format, MxElementFormatsAreData) {
  // E2M1 (MX FP4): bias 1, no inf, no NaN: max 6, min subnormal 0.5.
  const FormatSpec e2m1{DType::fp32, "e2m1", "", 2, 1, 1, Specials::finite_only, Overflow::saturate};
  EXPECT_EQ(max_value(e2m1), 6.0);
  EXPECT_EQ(min_subnormal(e2m1), 0.5);
  const FormatSpec e3m2{DType::fp32, "e3m2", "", 3, 2, 3, Specials::finite_only, Overflow::saturate};
  EXPECT_EQ(max_value(e3m2), 28.0);
}

TEST(Format, Names) {
  EXPECT_EQ(parse_dtype("half"), DType::fp16);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("float8_e4m3fn"), DType::e4m3);
  EXPECT_EQ(parse_dtype("float8_e5m2"), DType::e5m2);
  EXPECT_EQ(parse_dtype("float64"), DType::fp64);
  EXPECT_EQ(parse_dtype("float32"), DType::fp32);
  EXPECT_FALSE(parse_dtype("fp12").has_value());
  EXPECT_EQ(dtype_from_safetensors("F8_E4M3"), DType::e4m3);
  EXPECT_EQ(dtype_from_safetensors("BF16"), DType::bf16);
  EXPECT_FALSE(dtype_from_safetensors("I64").has_value());
  EXPECT_EQ(parse_rounding("toward-zero"), Rounding::toward_zero);
  EXPECT_EQ(parse_overflow("saturate"), Overflow::saturate);
  EXPECT_EQ(dtype_names(), "fp64 fp32 fp16 bf16 e4m3 e5m2");
}

}  // namespace
}  // namespace mixtrain::numerics
