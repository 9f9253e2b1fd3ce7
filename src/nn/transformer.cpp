// FeedForward and the transformer Block.
#include "nn/transformer.h"

#include "nn/seed.h"
#include "ops/elementwise.h"
#include "runtime/error.h"

namespace mixtrain::nn {

FeedForward::FeedForward(const FeedForwardOptions& o) {
  check(o.width > 0 && o.expansion > 0, "FeedForward: width and expansion must be positive");
  const std::int64_t hidden = o.expansion * o.width;
  fc_ = register_module("fc", std::make_unique<Linear>(LinearOptions{
                                  .in = o.width, .out = hidden, .bias = o.bias,
                                  .activation = backend::Activation::gelu, .seed = derive_seed(o.seed, 1)}));
  proj_ = register_module("proj", std::make_unique<Linear>(LinearOptions{
                                      .in = hidden, .out = o.width, .bias = o.bias, .seed = derive_seed(o.seed, 2)}));
}

Tensor FeedForward::forward_impl(const Tensor& x) { return proj_->forward(fc_->forward(x)); }

Block::Block(const BlockOptions& o) {
  ln1_ = register_module("ln1", std::make_unique<LayerNorm>(LayerNormOptions{.features = o.width}));
  attn_ = register_module("attn", std::make_unique<CausalSelfAttention>(AttentionOptions{
                                      .width = o.width, .heads = o.heads, .seed = derive_seed(o.seed, 1)}));
  ln2_ = register_module("ln2", std::make_unique<LayerNorm>(LayerNormOptions{.features = o.width}));
  mlp_ = register_module("mlp", std::make_unique<FeedForward>(FeedForwardOptions{
                                    .width = o.width, .seed = derive_seed(o.seed, 2)}));
  if (o.dropout > 0) {
    drop1_ = register_module("drop1", std::make_unique<Dropout>(DropoutOptions{o.dropout, derive_seed(o.seed, 3)}));
    drop2_ = register_module("drop2", std::make_unique<Dropout>(DropoutOptions{o.dropout, derive_seed(o.seed, 4)}));
  }
}

Tensor Block::forward_impl(const Tensor& x) {
  Tensor a = attn_->forward(ln1_->forward(x));
  if (drop1_) a = drop1_->forward(a);
  const Tensor h = ops::add(x, a);
  Tensor m = mlp_->forward(ln2_->forward(h));
  if (drop2_) m = drop2_->forward(m);
  return ops::add(h, m);
}

}  // namespace mixtrain::nn
