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
  const std::int64_t B = x.size(0), T = x.size(1), C = opt_.width, H = opt_.heads, D = C / H;
  // (B, T, 3C) -> (B, T, 3, H, D) -> (3, B, H, T, D): one permute copy, then q, k, v are three
  // contiguous slabs of the leading dimension.
  const Tensor qkv = ops::permute(ops::reshape(qkv_->forward(x), {B, T, 3, H, D}), {2, 0, 3, 1, 4});
  auto part = [&](std::int64_t i) { return ops::reshape(ops::slice(qkv, 0, i, i + 1), {B, H, T, D}); };
  const Tensor y = ops::causal_self_attention(part(0), part(1), part(2));
  // (B, H, T, D) -> (B, T, H, D) -> (B, T, C)
  return proj_->forward(ops::reshape(ops::permute(y, {0, 2, 1, 3}), {B, T, C}));
}

}  // namespace mixtrain::nn
