// CausalSelfAttention.
#include "nn/attention.h"

#include "nn/seed.h"
#include "ops/attention.h"
#include "ops/shape_ops.h"
#include "runtime/error.h"

namespace mixtrain::nn {

CausalSelfAttention::CausalSelfAttention(const AttentionOptions& o) : opt_(o) {
  check(o.width > 0 && o.heads > 0 && o.width % o.heads == 0,
        "CausalSelfAttention: width " + std::to_string(o.width) + " must be a positive multiple of heads " +
            std::to_string(o.heads));
  qkv_ = register_module("qkv", std::make_unique<Linear>(LinearOptions{
                                    .in = o.width, .out = 3 * o.width, .bias = o.bias, .seed = derive_seed(o.seed, 1)}));
  proj_ = register_module("proj", std::make_unique<Linear>(LinearOptions{
                                      .in = o.width, .out = o.width, .bias = o.bias, .seed = derive_seed(o.seed, 2)}));
}

Tensor CausalSelfAttention::forward_impl(const Tensor& x) {
  check(x.dim() == 3 && x.size(2) == opt_.width, "CausalSelfAttention '" + name() + "': expected (B, T, " +
                                                     std::to_string(opt_.width) + "), got " + to_string(x.shape()));
  // The op splits (B, T, 3C) into heads and merges them back itself (no permute/slice nodes).
  return proj_->forward(ops::causal_self_attention_qkv(qkv_->forward(x), opt_.heads));
}

}  // namespace mixtrain::nn
