// CausalSelfAttention: multi-head causal self-attention as in GPT-2. A fused qkv Linear (C -> 3C)
// feeds ops::causal_self_attention per head (B, H, T, C/H); the merged heads go through the
// output projection `proj` (C -> C). Children: "qkv", "proj".
#pragma once

#include "nn/linear.h"

namespace mixtrain::nn {

struct AttentionOptions {
  std::int64_t width = 0;  // C, a multiple of heads
  std::int64_t heads = 1;  // H
  bool bias = true;
  std::uint64_t seed = 0;
};

// forward: x (B, T, C) -> (B, T, C); position t attends to positions <= t with scale
// 1/sqrt(C/H). Under autocast the qkv/proj GEMMs and the attention GEMMs run in the low dtype
// (fp8 Linears when the policy says so) and the softmax in fp32. Throws mixtrain::Error for a
// width not divisible by heads or an input that is not (B, T, C).
class CausalSelfAttention : public Module {
 public:
  explicit CausalSelfAttention(const AttentionOptions& o);
  std::string type() const override { return "CausalSelfAttention"; }
  Linear& qkv() { return *qkv_; }
  Linear& proj() { return *proj_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  AttentionOptions opt_;
  Linear* qkv_;
  Linear* proj_;
};

}  // namespace mixtrain::nn
