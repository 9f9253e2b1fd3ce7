// TiedHead and GPT.
#include "nn/gpt.h"

#include "amp/autocast.h"
#include "nn/seed.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "runtime/error.h"

namespace mixtrain::nn {

Tensor TiedHead::forward_impl(const Tensor& x) { return ops::linear(x, embedding_->weight()); }

GPT::GPT(const GPTConfig& c) : cfg_(c) {
  const std::uint64_t seed = c.seed;
  check(c.layers > 0 && c.heads > 0 && c.width > 0 && c.context > 0 && c.vocab > 0,
        "GPT: layers, heads, width, context and vocab must be positive");
  check(c.width % c.heads == 0, "GPT: width " + std::to_string(c.width) + " is not a multiple of heads " +
                                    std::to_string(c.heads));
  check(c.dropout >= 0 && c.dropout < 1, "GPT: dropout must be in [0, 1)");
  // N(0, 0.02) embeddings as GPT-2 (and gpt.py); Linear layers keep PyTorch's default init.
  wte_ = register_module("wte", std::make_unique<Embedding>(EmbeddingOptions{c.vocab, c.width, 0.02, derive_seed(seed, 0)}));
  wpe_ = register_module("wpe", std::make_unique<Embedding>(EmbeddingOptions{c.context, c.width, 0.02, derive_seed(seed, 1)}));
  if (c.dropout > 0) drop_ = register_module("drop", std::make_unique<Dropout>(DropoutOptions{c.dropout, derive_seed(seed, 2)}));
  blocks_ = register_module("blocks", std::make_unique<Sequential>());
  for (std::int64_t l = 0; l < c.layers; ++l)
    blocks_->add(std::make_unique<Block>(BlockOptions{.width = c.width, .heads = c.heads, .dropout = c.dropout,
                                                      .seed = derive_seed(seed, 100 + static_cast<std::uint64_t>(l))}));
  lnf_ = register_module("lnf", std::make_unique<LayerNorm>(LayerNormOptions{.features = c.width}));
  head_ = register_module("head", std::make_unique<TiedHead>(*wte_));
}

Tensor GPT::logits(const std::vector<std::int64_t>& ids, std::int64_t B, std::int64_t T) {
  // The scope Module::forward would set (this model may itself be a named child).
  amp::ModuleScope scope(name());
  return run(ids, B, T);
}

Tensor GPT::forward_impl(const Tensor& x) {
  check(x.dim() == 2, "GPT: expected token ids (B, T), got " + to_string(x.shape()));
  return run(ids_from_tensor(x), x.size(0), x.size(1));
}

Tensor GPT::run(const std::vector<std::int64_t>& ids, std::int64_t B, std::int64_t T) {
  check(B > 0 && T > 0 && T <= cfg_.context, "GPT: need B >= 1 and 1 <= T <= context " + std::to_string(cfg_.context) +
                                                 ", got B " + std::to_string(B) + ", T " + std::to_string(T));
  check(static_cast<std::int64_t>(ids.size()) == B * T,
        "GPT: " + std::to_string(ids.size()) + " token ids for B*T = " + std::to_string(B * T));
  std::vector<std::int64_t> pos(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) pos[static_cast<std::size_t>(t)] = t;
  // (B, T, C) + (T, C): the position rows broadcast over the batch.
  Tensor h = ops::add(wte_->forward_ids(ids, {B, T}), wpe_->forward_ids(pos, {T}));
  if (drop_) h = drop_->forward(h);
  return head_->forward(lnf_->forward(blocks_->forward(h)));
}

}  // namespace mixtrain::nn
