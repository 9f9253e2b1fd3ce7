// GPT: a GPT-2 style byte-level language model, the same network as ../shared/peers/gpt.py:
// token ("wte") + learned position ("wpe") embeddings, pre-LayerNorm Blocks ("blocks.0" ...), a
// final LayerNorm ("lnf") and an output head tied to the token table ("head": no parameter of its
// own; logits = h wte^T, so wte.weight receives gradient from both of its uses).
#pragma once

#include <vector>

#include "nn/embedding.h"
#include "nn/sequential.h"
#include "nn/transformer.h"

namespace mixtrain::nn {

struct GPTConfig {
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t width = 256;    // C, a multiple of heads
  std::int64_t context = 128;  // the longest sequence (rows of wpe)
  std::int64_t vocab = 256;    // bytes
  double dropout = 0.0;        // embedding and residual dropout (0: no Dropout modules)
  std::uint64_t seed = 0;      // initialisation (and dropout masks)
};

// logits = x table^T for x (..., D) and the (V, D) table of an Embedding: one GEMM (ops::linear
// reads the table as W without materialising its transpose). Its own module so that the
// precision map can name it ("head=fp32").
class TiedHead : public Module {
 public:
  explicit TiedHead(Embedding& embedding) : embedding_(&embedding) {}
  std::string type() const override { return "TiedHead"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  Embedding* embedding_;  // a sibling in the same model, which owns both
};

// Default config: 3,257,856 parameters (gpt.py's count).
class GPT : public Module {
 public:
  explicit GPT(const GPTConfig& config = {});
  std::string type() const override { return "GPT"; }
  const GPTConfig& config() const { return cfg_; }
  Embedding& wte() { return *wte_; }
  Embedding& wpe() { return *wpe_; }

  // ids: B*T token ids in [0, vocab), row-major (B, T), 1 <= T <= context -> logits (B, T, vocab).
  // Throws mixtrain::Error otherwise.
  Tensor logits(const std::vector<std::int64_t>& ids, std::int64_t B, std::int64_t T);

 protected:
  // x (B, T) holding integral token ids -> logits (B, T, vocab): the generic Module interface.
  Tensor forward_impl(const Tensor& x) override;

 private:
  Tensor run(const std::vector<std::int64_t>& ids, std::int64_t B, std::int64_t T);
  GPTConfig cfg_;
  Embedding* wte_;
  Embedding* wpe_;
  Dropout* drop_ = nullptr;
  Sequential* blocks_;
  LayerNorm* lnf_;
  TiedHead* head_;
};

}  // namespace mixtrain::nn
