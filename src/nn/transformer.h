// The pre-LayerNorm transformer block of GPT-2: x + attn(ln1(x)), then x + mlp(ln2(x)), where
// mlp is FeedForward: Linear C -> 4C with GELU fused into its epilogue, then Linear 4C -> C.
// Children: "ln1", "attn" (qkv, proj), "ln2", "mlp" (fc, proj), and "drop1"/"drop2" when
// dropout > 0 (residual dropout).
#pragma once

#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/linear.h"

namespace mixtrain::nn {

struct FeedForwardOptions {
  std::int64_t width = 0;  // C
  std::int64_t expansion = 4;
  bool bias = true;
  std::uint64_t seed = 0;
};

// y = proj(gelu(fc(x))), x (..., C) -> (..., C); GELU is the tanh approximation.
class FeedForward : public Module {
 public:
  explicit FeedForward(const FeedForwardOptions& o);
  std::string type() const override { return "FeedForward"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  Linear* fc_;
  Linear* proj_;
};

struct BlockOptions {
  std::int64_t width = 0;  // C
  std::int64_t heads = 1;
  double dropout = 0.0;    // residual dropout probability (0: no Dropout children)
  std::uint64_t seed = 0;
};

// x (B, T, C) -> (B, T, C).
class Block : public Module {
 public:
  explicit Block(const BlockOptions& o);
  std::string type() const override { return "Block"; }
  CausalSelfAttention& attn() { return *attn_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  LayerNorm* ln1_;
  CausalSelfAttention* attn_;
  LayerNorm* ln2_;
  FeedForward* mlp_;
  Dropout* drop1_ = nullptr;
  Dropout* drop2_ = nullptr;
};

}  // namespace mixtrain::nn
