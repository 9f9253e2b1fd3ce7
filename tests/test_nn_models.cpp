// The nn layers and models: output shapes, PyTorch-style parameter names and counts (the GPT
// matches ../shared/peers/gpt.py's 3,257,856), the tied GPT head receiving gradient from both of
// its uses, BatchNorm2d train/eval, attention against a loop reference and its causality, dropout
// masks, O2 storage dtypes, the model factory, and short training runs of every model under fp32
// O0 and bf16 O2 (and the GPT under fp16 O2 with a dynamic GradScaler) on tiny synthetic data.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "amp/autocast.h"
#include "amp/grad_scaler.h"
#include "nn/batch_norm.h"
#include "nn/cnn.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/gpt.h"
#include "nn/mlp.h"
#include "nn/models.h"
#include "nn/resnet.h"
#include "ops/softmax_loss.h"
#include "optim/optimizer.h"
#include "runtime/error.h"

namespace mixtrain {
namespace {

using Names = std::vector<std::string>;

Names param_names(nn::Module& m) {
  Names n;
  for (const auto& p : m.parameters()) n.push_back(p.name);
  return n;
}

bool has(const Names& names, const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); }

// Tiny configurations used by the behaviour and training tests.
nn::CNNOptions tiny_cnn(std::uint64_t seed) {
  return {.in_channels = 1, .image = 8, .channels1 = 4, .channels2 = 8, .hidden = 16, .classes = 4, .seed = seed};
}
nn::ResNetOptions tiny_resnet(std::uint64_t seed) {
  return {.in_channels = 1, .image = 8, .widths = {4, 8}, .blocks_per_stage = 1, .classes = 4, .seed = seed};
}
nn::GPTConfig tiny_gpt(std::uint64_t seed) {
  return {.layers = 2, .heads = 2, .width = 32, .context = 16, .vocab = 16, .seed = seed};
}

// ---------------------------------------------------------------------------------------------
// Shapes, names, counts

TEST(NnModels, OutputShapes) {
  nn::CNN cnn({.seed = 1});
  EXPECT_EQ(cnn(Tensor::randn({2, 1, 28, 28}, 1)).shape(), (Shape{2, 10}));
  EXPECT_EQ(cnn(Tensor::randn({3, 784}, 1)).shape(), (Shape{3, 10}));  // flattened rows
  EXPECT_THROW(cnn(Tensor::randn({2, 3, 28, 28}, 1)), Error);
  nn::ResNet resnet({.seed = 1});
  EXPECT_EQ(resnet(Tensor::randn({2, 1, 28, 28}, 2)).shape(), (Shape{2, 10}));
  EXPECT_EQ(resnet(Tensor::randn({2, 784}, 2)).shape(), (Shape{2, 10}));
  nn::GPT gpt(tiny_gpt(1));
  std::vector<std::int64_t> ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(gpt.logits(ids, 2, 5).shape(), (Shape{2, 5, 16}));
  EXPECT_EQ(gpt(Tensor::from(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})).shape(), (Shape{2, 3, 16}));
  EXPECT_THROW(gpt.logits(ids, 2, 4), Error);                           // 10 ids for B*T = 8
  EXPECT_THROW(gpt.logits(std::vector<std::int64_t>(17, 0), 1, 17), Error);  // T > context
  EXPECT_THROW(gpt.logits({1, 99}, 1, 2), Error);                       // id outside the vocabulary
  EXPECT_THROW(gpt(Tensor::from(std::vector<float>{0.5f}, {1, 1})), Error);  // not an integer id
}

TEST(NnModels, CnnNamesAndCount) {
  nn::CNN cnn;
  EXPECT_EQ(param_names(cnn), (Names{"features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                                     "fc.weight", "fc.bias", "head.weight", "head.bias"}));
  // As cnn.py: 1*32*9+32 + 32*64*9+64 + 3136*128+128 + 128*10+10.
  EXPECT_EQ(cnn.parameter_count(), 421642);
  EXPECT_EQ(cnn.parameters()[2].tensor->shape(), (Shape{64, 32, 3, 3}));
}

TEST(NnModels, ResNetNamesAndCount) {
  nn::ResNet r;
  const Names n = param_names(r);
  for (const char* want : {"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
                           "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
                           "layer3.0.conv2.weight", "head.weight", "head.bias"})
    EXPECT_TRUE(has(n, want)) << want;
  EXPECT_FALSE(has(n, "layer1.0.downsample.0.weight"));  // identity shortcut
  EXPECT_FALSE(has(n, "conv1.bias"));                    // convs before BatchNorm have no bias
  EXPECT_EQ(r.parameter_count(), 77754);
  // BatchNorm parameters are norm parameters without decay; running statistics are buffers.
  for (const auto& p : r.parameters()) {
    const bool bn = p.name.find("bn") != std::string::npos || p.name.find("downsample.1") != std::string::npos;
    EXPECT_EQ(p.is_norm, bn) << p.name;
    if (bn) {
      EXPECT_FALSE(p.decay) << p.name;
    }
  }
  const auto bufs = r.buffers();
  EXPECT_EQ(bufs.size(), 2u * 9);  // bn1, 2 per block, 2 downsample BNs
  EXPECT_EQ(bufs[0].first, "bn1.running_mean");
  EXPECT_EQ(bufs[1].first, "bn1.running_var");
  nn::ResNet deeper({.blocks_per_stage = 2});
  EXPECT_TRUE(has(param_names(deeper), "layer3.1.conv2.weight"));
}

TEST(NnModels, GptMatchesThePeerArchitecture) {
  nn::GPT gpt;
  // gpt.py: wte 256x256, wpe 128x256, 4 blocks of (ln1, qkv 256->768, proj, ln2, fc 256->1024,
  // out 1024->256), lnf; the head is the tied wte.
  EXPECT_EQ(gpt.parameter_count(), 3257856);
  const Names n = param_names(gpt);
  EXPECT_EQ(n.size(), 2u + 4 * 12 + 2);
  EXPECT_EQ(n.front(), "wte.weight");
  EXPECT_EQ(n[1], "wpe.weight");
  for (const char* want : {"blocks.0.ln1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                           "blocks.0.attn.proj.weight", "blocks.2.ln2.bias", "blocks.3.mlp.fc.weight",
                           "blocks.3.mlp.proj.bias", "lnf.weight", "lnf.bias"})
    EXPECT_TRUE(has(n, want)) << want;
  for (const auto& s : n) EXPECT_FALSE(s.starts_with("head")) << s;  // tied: no parameter of its own
  std::set<std::string> modules;
  for (const nn::Module* m : gpt.modules()) modules.insert(m->name());
  EXPECT_TRUE(modules.contains("head"));
  EXPECT_TRUE(modules.contains("blocks.1.attn"));
  for (const auto& p : gpt.parameters()) {
    if (p.name == "blocks.0.attn.qkv.weight") {
      EXPECT_EQ(p.tensor->shape(), (Shape{768, 256}));
    }
    if (p.name == "wte.weight") {
      // N(0, 0.02) initialisation.
      const auto v = p.tensor->to_vector();
      double ss = 0;
      for (float x : v) ss += double(x) * x;
      EXPECT_NEAR(std::sqrt(ss / double(v.size())), 0.02, 0.001);
    }
  }
}

TEST(NnModels, DeterministicInTheSeed) {
  for (const std::string name : {"cnn", "resnet"}) {
    auto a = nn::make_model(name, 7), b = nn::make_model(name, 7), c = nn::make_model(name, 8);
    const Tensor x = Tensor::randn({2, 784}, 3);
    a->eval();
    b->eval();
    c->eval();
    EXPECT_EQ(a->forward(x).to_vector(), b->forward(x).to_vector()) << name;
    EXPECT_NE(a->forward(x).to_vector(), c->forward(x).to_vector()) << name;
  }
  // Layers within one model are initialised from distinct streams.
  nn::GPT gpt(tiny_gpt(3));
  std::vector<float> qkv0, qkv1;
  for (const auto& p : gpt.parameters()) {
    if (p.name == "blocks.0.attn.qkv.weight") qkv0 = p.tensor->to_vector();
    if (p.name == "blocks.1.attn.qkv.weight") qkv1 = p.tensor->to_vector();
  }
  ASSERT_FALSE(qkv0.empty());
  EXPECT_NE(qkv0, qkv1);
}

TEST(NnModels, Factory) {
  EXPECT_EQ(nn::model_names(), (Names{"mlp", "cnn", "resnet", "gpt"}));
  EXPECT_EQ(nn::make_model("mlp", 0)->parameter_count(), 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10);
  EXPECT_EQ(nn::make_model("cnn", 0)->type(), "CNN");
  EXPECT_EQ(nn::make_model("resnet", 0)->type(), "ResNet");
  EXPECT_EQ(nn::make_model("gpt", 0)->parameter_count(), 3257856);
  try {
    nn::make_model("vgg", 0);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown model 'vgg' (known: mlp cnn resnet gpt)");
  }
}

// ---------------------------------------------------------------------------------------------
// Layer behaviour

TEST(NnModelLayers, Conv2dInitAndShape) {
  nn::Conv2d conv({.in = 3, .out = 5, .kernel = 3, .stride = 2, .pad = 1, .seed = 4});
  const double bound = 1.0 / std::sqrt(27.0);
  for (float w : conv.weight().to_vector()) EXPECT_LE(std::fabs(w), bound);
  EXPECT_EQ(conv(Tensor::randn({2, 3, 9, 9}, 1)).shape(), (Shape{2, 5, 5, 5}));
  EXPECT_EQ(nn::MaxPool2d({.kernel = 2})(Tensor::randn({1, 2, 6, 6}, 1)).shape(), (Shape{1, 2, 3, 3}));
  EXPECT_EQ(nn::AvgPool2d({.kernel = 3, .stride = 1, .pad = 1})(Tensor::randn({1, 2, 6, 6}, 1)).shape(),
            (Shape{1, 2, 6, 6}));
  EXPECT_THROW(nn::Conv2d({.in = 0, .out = 1}), Error);
  EXPECT_THROW(nn::MaxPool2d({.kernel = 2, .pad = 2}), Error);
}

TEST(NnModelLayers, BatchNorm2dTrainVsEval) {
  nn::BatchNorm2d bn({.features = 2});
  // Channel 0 ~ 3 + 2 N(0,1), channel 1 ~ -1 + 0.5 N(0,1).
  const std::int64_t N = 8, H = 4, W = 4;
  auto r = Tensor::randn({N, 2, H, W}, 5).to_vector();
  for (std::int64_t i = 0; i < N * 2 * H * W; ++i) {
    const bool c0 = (i / (H * W)) % 2 == 0;
    r[std::size_t(i)] = c0 ? 3 + 2 * r[std::size_t(i)] : -1 + 0.5f * r[std::size_t(i)];
  }
  const Tensor x = Tensor::from(r, {N, 2, H, W});
  auto channel_stats = [&](const std::vector<float>& v, std::int64_t c) {
    double s = 0, ss = 0;
    const double M = double(N * H * W);
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t i = 0; i < H * W; ++i) {
        const double y = v[std::size_t((n * 2 + c) * H * W + i)];
        s += y;
        ss += y * y;
      }
    return std::make_pair(s / M, ss / M - (s / M) * (s / M));
  };
  const auto xs0 = channel_stats(r, 0), xs1 = channel_stats(r, 1);
  // Training: batch statistics normalise each channel; running stats move 10% of the way.
  const auto y = bn(x).to_vector();
  for (std::int64_t c = 0; c < 2; ++c) {
    const auto [m, v] = channel_stats(y, c);
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v, 1.0, 1e-3);
  }
  const double M = double(N * H * W);
  const auto rm = bn.running_mean().to_vector(), rv = bn.running_var().to_vector();
  EXPECT_NEAR(rm[0], 0.1 * xs0.first, 1e-5);
  EXPECT_NEAR(rm[1], 0.1 * xs1.first, 1e-5);
  EXPECT_NEAR(rv[0], 0.9 + 0.1 * xs0.second * M / (M - 1), 1e-4);  // unbiased variance
  EXPECT_NEAR(rv[1], 0.9 + 0.1 * xs1.second * M / (M - 1), 1e-4);
  // Eval: the running statistics, unchanged by the call.
  bn.eval();
  const auto ye = bn(x).to_vector();
  for (std::size_t i = 0; i < ye.size(); i += 7) {
    const std::size_t c = (i / std::size_t(H * W)) % 2;
    EXPECT_NEAR(ye[i], (r[i] - rm[c]) / std::sqrt(rv[c] + 1e-5), 1e-4);
  }
  EXPECT_EQ(bn.running_mean().to_vector(), rm);
  EXPECT_EQ(bn.running_var().to_vector(), rv);
  EXPECT_THROW(bn(Tensor::zeros({2, 3, 2, 2})), Error);
}

TEST(NnModelLayers, EmbeddingIdsAndTensorAgree) {
  nn::Embedding e({.num = 10, .dim = 3, .seed = 2});
  const Tensor a = e.forward_ids({4, 0, 9, 4}, {2, 2});
  const Tensor b = e(Tensor::from(std::vector<float>{4, 0, 9, 4}, {2, 2}));
  EXPECT_EQ(a.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(a.to_vector(), b.to_vector());
  const auto w = e.weight().to_vector();
  EXPECT_EQ(a.to_vector()[6], w[27]);  // id 9, first column
  EXPECT_THROW(e.forward_ids({10}, {1}), Error);
}

TEST(NnModelLayers, DropoutMasksDifferPerStepAndReproduce) {
  auto masks = [](std::uint64_t seed) {
    nn::Dropout d({.p = 0.5, .seed = seed});
    std::vector<std::vector<float>> out;
    for (int s = 0; s < 3; ++s) out.push_back(d(Tensor::ones({64})).to_vector());
    EXPECT_EQ(d.step(), 3);
    d.eval();
    EXPECT_EQ(d(Tensor::ones({64})).to_vector(), std::vector<float>(64, 1.0f));
    EXPECT_EQ(d.step(), 3);
    return out;
  };
  const auto a = masks(1), b = masks(1), c = masks(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0], a[1]);
  EXPECT_NE(a[1], a[2]);
  EXPECT_NE(a[0], c[0]);
  for (float v : a[0]) EXPECT_TRUE(v == 0.0f || v == 2.0f);
  // The step counter is a buffer, so checkpoints carry it.
  nn::Dropout d({.p = 0.5});
  ASSERT_EQ(d.buffers().size(), 1u);
  EXPECT_EQ(d.buffers()[0].first, "step");
}

// Multi-head causal attention against a loop over heads on the same qkv projection.
TEST(NnModelLayers, AttentionMatchesLoopReferenceAndIsCausal) {
  const std::int64_t B = 2, T = 5, C = 8, H = 2, D = C / H;
  nn::CausalSelfAttention attn({.width = C, .heads = H, .seed = 3});
  const Tensor x = Tensor::randn({B, T, C}, 9);
  const auto qkv = attn.qkv()(x).to_vector();  // (B, T, 3C): q | k | v, heads contiguous in each
  std::vector<float> merged(std::size_t(B * T * C));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < T; ++t) {
        auto at = [&](std::int64_t part, std::int64_t s, std::int64_t d) {
          return double(qkv[std::size_t((b * T + s) * 3 * C + part * C + h * D + d)]);
        };
        std::vector<double> p(std::size_t(t + 1));
        double mx = -1e300, z = 0;
        for (std::int64_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (std::int64_t d = 0; d < D; ++d) dot += at(0, t, d) * at(1, s, d);
          p[std::size_t(s)] = dot / std::sqrt(double(D));
          mx = std::max(mx, p[std::size_t(s)]);
        }
        for (auto& v : p) z += (v = std::exp(v - mx));
        for (std::int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (std::int64_t s = 0; s <= t; ++s) acc += p[std::size_t(s)] / z * at(2, s, d);
          merged[std::size_t((b * T + t) * C + h * D + d)] = float(acc);
        }
      }
  const auto want = attn.proj()(Tensor::from(merged, {B, T, C})).to_vector();
  const auto got = attn(x).to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  // Changing the last position leaves every earlier output unchanged.
  auto xv = x.to_vector();
  for (std::int64_t c = 0; c < C; ++c) xv[std::size_t((T - 1) * C + c)] += 1.0f;
  const auto got2 = attn(Tensor::from(xv, {B, T, C})).to_vector();
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t c = 0; c < C; ++c) {
      const std::size_t i = std::size_t(t * C + c);
      if (t < T - 1) {
        EXPECT_EQ(got2[i], got[i]);
      } else {
        EXPECT_NE(got2[i], got[i]);
      }
    }
}

// The tied head: wte.weight's gradient is the sum of the head's (logits = h wte^T) and the
// lookup's. With B = 1 and distinct tokens, the lookup's share for the token at position t equals
// wpe.weight's gradient at t (both receive the same dx), so the head's share is the difference;
// both must be non-zero, and the total must match a finite difference (fp64 copy of the model).
TEST(NnModels, TiedEmbeddingGetsGradientFromBothUses) {
  nn::GPT gpt(tiny_gpt(5));
  for (auto& p : gpt.parameters()) {
    *p.tensor = p.tensor->to(DType::fp64);
    p.tensor->set_requires_grad(true);
  }
  const std::vector<std::int64_t> ids = {3, 1, 4, 7, 5}, targets = {1, 4, 7, 5, 9};
  auto loss_of = [&] { return ops::cross_entropy(gpt.logits(ids, 1, 5), targets); };
  loss_of().backward();
  Tensor* wte = gpt.parameters()[0].tensor;
  Tensor* wpe = gpt.parameters()[1].tensor;
  const auto gw = wte->grad().to_vector_f64(), gp = wpe->grad().to_vector_f64();
  const std::int64_t C = 32;
  for (std::int64_t t = 0; t < 5; ++t) {
    const std::int64_t v = ids[std::size_t(t)];
    double lookup = 0, head = 0;
    for (std::int64_t c = 0; c < C; ++c) {
      const double g = gw[std::size_t(v * C + c)], l = gp[std::size_t(t * C + c)];
      lookup += l * l;
      head += (g - l) * (g - l);
    }
    EXPECT_GT(lookup, 1e-12) << "token " << v;
    EXPECT_GT(head, 1e-12) << "token " << v;
  }
  // Finite differences on entries of a token used at the input (both uses) and of one that is
  // not (the head only).
  for (std::int64_t idx : {4 * C + 3, 7 * C + 10, 12 * C + 5}) {
    double* w = wte->data_as<double>() + idx;
    const double w0 = *w, h = 1e-6;
    *w = w0 + h;
    const double lp = loss_of().item();
    *w = w0 - h;
    const double lm = loss_of().item();
    *w = w0;
    EXPECT_NEAR(gw[std::size_t(idx)], (lp - lm) / (2 * h), 1e-7) << idx;
  }
}

TEST(NnModels, O2StorageDtypes) {
  const amp::Policy p = amp::Policy::O2(DType::bf16);
  nn::ResNet r(tiny_resnet(1));
  r.apply_policy(p);
  for (const auto& prm : r.parameters()) {
    const bool norm = prm.name.find("bn") != std::string::npos || prm.name.find("downsample.1") != std::string::npos;
    EXPECT_EQ(prm.tensor->dtype(), norm ? DType::fp32 : DType::bf16) << prm.name;
  }
  for (const auto& [n, t] : r.buffers()) EXPECT_EQ(t->dtype(), DType::fp32) << n;
  nn::GPT g(tiny_gpt(1));
  g.apply_policy(p);
  for (const auto& prm : g.parameters()) {
    const bool norm = prm.name.find("ln") != std::string::npos;
    EXPECT_EQ(prm.tensor->dtype(), norm ? DType::fp32 : DType::bf16) << prm.name;
  }
  nn::CNN c(tiny_cnn(1));
  c.apply_policy(p);
  for (const auto& prm : c.parameters()) EXPECT_EQ(prm.tensor->dtype(), DType::bf16) << prm.name;
  // Under autocast the convolutions run in bf16 and BatchNorm keeps its input's dtype.
  amp::Autocast guard(p);
  EXPECT_EQ(r(Tensor::randn({2, 64}, 1)).dtype(), DType::bf16);
  nn::BatchNorm2d bn({.features = 2});
  bn.apply_policy(p);
  EXPECT_EQ(bn(Tensor::randn({2, 2, 2, 2}, 1, 1.0, DType::bf16)).dtype(), DType::bf16);
}

// ---------------------------------------------------------------------------------------------
// Training smoke tests

// Images of 4 classes: class c lights a 3x3 patch in quadrant c of an 8x8 image, plus noise.
struct Images {
  Tensor x;
  std::vector<std::int64_t> y;
};
Images images(std::int64_t n, std::uint64_t seed) {
  Images d;
  auto v = Tensor::randn({n, 64}, seed, 0.3).to_vector();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = (i * 7 + 3) % 4;
    d.y.push_back(c);
    const std::int64_t r0 = (c / 2) * 4, c0 = (c % 2) * 4;
    for (std::int64_t a = 0; a < 3; ++a)
      for (std::int64_t b = 0; b < 3; ++b) v[std::size_t(i * 64 + (r0 + a) * 8 + c0 + b)] += 1.0f;
  }
  d.x = Tensor::from(v, {n, 1, 8, 8});
  return d;
}

// A deterministic byte language: each sequence counts up by a stride that depends on its first
// token, so the next token is predictable from the context.
struct Tokens {
  std::vector<std::int64_t> x, y;
};
Tokens tokens(std::int64_t B, std::int64_t T, std::int64_t V) {
  Tokens d;
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t start = (b * 5) % V, stride = 1 + b % 3;
    for (std::int64_t t = 0; t <= T; ++t) {
      const std::int64_t tok = (start + stride * t) % V;
      if (t < T) d.x.push_back(tok);
      if (t > 0) d.y.push_back(tok);
    }
  }
  return d;
}

struct TrainRun {
  double first = 0, last = 0;
  std::int64_t skipped = 0;
};

// `steps` AdamW steps of loss_fn under policy (autocast on), with the scaler as given.
TrainRun train(nn::Module& model, const amp::Policy& policy, amp::LossScaleOptions scale, int steps, double lr,
          const std::function<Tensor()>& loss_fn) {
  model.apply_policy(policy);
  model.train();
  optim::AdamW opt(model.parameters(), policy, {.lr = lr, .weight_decay = 0.0});
  amp::GradScaler scaler(scale);
  TrainRun r;
  for (int s = 0; s < steps; ++s) {
    amp::Autocast guard(policy);
    Tensor loss = loss_fn();
    EXPECT_EQ(loss.dtype(), DType::fp32);
    const double l = loss.item();
    if (s == 0) r.first = l;
    r.last = l;
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
    opt.zero_grad();
  }
  r.skipped = scaler.state().skipped_steps();
  return r;
}

const amp::LossScaleOptions kNoScaling{.mode = amp::ScaleMode::disabled};

std::vector<amp::Policy> smoke_policies() { return {amp::Policy::O0(), amp::Policy::O2(DType::bf16)}; }

TEST(NnModelTraining, MlpCnnResNetLearnTinyImages) {
  const Images d = images(32, 11);
  const Tensor flat = d.x.view({32, 64});
  for (const amp::Policy& p : smoke_policies()) {
    nn::MLP mlp({.sizes = {64, 32, 4}, .seed = 1});
    const TrainRun a = train(mlp, p, kNoScaling, 15, 1e-2, [&] { return ops::cross_entropy(mlp(flat), d.y); });
    EXPECT_LT(a.last, 0.5 * a.first) << "mlp " << p.describe();
    nn::CNN cnn(tiny_cnn(2));
    const TrainRun b = train(cnn, p, kNoScaling, 15, 1e-2, [&] { return ops::cross_entropy(cnn(d.x), d.y); });
    EXPECT_LT(b.last, 0.5 * b.first) << "cnn " << p.describe();
    nn::ResNet res(tiny_resnet(3));
    const TrainRun c = train(res, p, kNoScaling, 15, 1e-2, [&] { return ops::cross_entropy(res(flat), d.y); });
    EXPECT_LT(c.last, 0.5 * c.first) << "resnet " << p.describe();
    // Eval mode (running statistics) classifies the training images too.
    res.eval();
    amp::Autocast guard(p);
    EXPECT_LT(ops::cross_entropy(res(flat), d.y).item(), c.first) << "resnet eval " << p.describe();
  }
}

TEST(NnModelTraining, GptLearnsTinySequences) {
  const std::int64_t B = 4, T = 12;
  const Tokens d = tokens(B, T, 16);
  for (const amp::Policy& p : smoke_policies()) {
    nn::GPT gpt(tiny_gpt(4));
    const TrainRun r = train(gpt, p, kNoScaling, 20, 1e-2, [&] { return ops::cross_entropy(gpt.logits(d.x, B, T), d.y); });
    EXPECT_LT(r.last, 0.5 * r.first) << p.describe();
  }
  // fp16 O2 with dynamic loss scaling: the first steps may overflow at 2^16 and be skipped; the
  // scaler backs off by itself and training proceeds.
  nn::GPT gpt(tiny_gpt(4));
  const TrainRun r = train(gpt, amp::Policy::O2(DType::fp16), amp::LossScaleOptions{}, 25, 1e-2,
                      [&] { return ops::cross_entropy(gpt.logits(d.x, B, T), d.y); });
  EXPECT_LT(r.last, 0.5 * r.first);
  EXPECT_LT(r.skipped, 10);
  // With dropout the model still trains, and eval mode is deterministic.
  nn::GPTConfig cfg = tiny_gpt(4);
  cfg.dropout = 0.1;
  nn::GPT dgpt(cfg);
  EXPECT_TRUE(has(param_names(dgpt), "blocks.0.attn.qkv.weight"));
  const TrainRun rd = train(dgpt, amp::Policy::O0(), kNoScaling, 20, 1e-2,
                       [&] { return ops::cross_entropy(dgpt.logits(d.x, B, T), d.y); });
  EXPECT_LT(rd.last, 0.6 * rd.first);
  dgpt.eval();
  EXPECT_EQ(dgpt.logits(d.x, B, T).to_vector(), dgpt.logits(d.x, B, T).to_vector());
}

}  // namespace
}  // namespace mixtrain
