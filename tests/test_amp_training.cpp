// Mixed precision end to end on a small model from the C++ API: every opt level trains, the
// GradScaler skips exactly the steps with injected overflow and leaves weights and optimizer state
// bit-identical, clipping sees unscaled gradients, O2 keeps LayerNorm in fp32, the precision map
// wins over the opt level, weights are cast once per step, and bf16 O3 without masters stalls on
// small updates where O2 and O3 with stochastic rounding do not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "amp/autocast.h"
#include "autograd/grad_info.h"
#include "amp/grad_scaler.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "ops/softmax_loss.h"
#include "optim/optimizer.h"

namespace mixtrain {
namespace {

// A separable 4-class problem on 16 features.
struct Toy {
  Tensor x;
  std::vector<std::int64_t> y;
};
Toy toy(std::int64_t n, std::uint64_t seed) {
  Toy t;
  std::vector<float> xs(static_cast<std::size_t>(n * 16));
  const Tensor r = Tensor::randn({n, 16}, seed);
  const auto rv = r.to_vector();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = i % 4;
    t.y.push_back(c);
    for (std::int64_t j = 0; j < 16; ++j)
      xs[static_cast<std::size_t>(i * 16 + j)] = rv[static_cast<std::size_t>(i * 16 + j)] * 0.5f + (j % 4 == c ? 1.5f : 0.0f);
  }
  t.x = Tensor::from(xs, {n, 16});
  return t;
}

double train(const amp::Policy& policy, amp::LossScaleOptions scale, int steps, double* first_loss = nullptr) {
  nn::MLP model({.sizes = {16, 32, 4}, .seed = 3});
  model.apply_policy(policy);
  optim::AdamW opt(model.parameters(), policy, {.lr = 1e-2, .weight_decay = 0.0});
  amp::GradScaler scaler(scale);
  const Toy data = toy(256, 1);
  double loss_v = 0;
  for (int s = 0; s < steps; ++s) {
    amp::Autocast guard(policy);
    Tensor loss = ops::cross_entropy(model(data.x), data.y);
    loss_v = loss.item();
    if (s == 0 && first_loss) *first_loss = loss_v;
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
    opt.zero_grad();
  }
  return loss_v;
}

TEST(AmpTraining, EveryOptLevelTrains) {
  using amp::Policy;
  amp::LossScaleOptions off{.mode = amp::ScaleMode::disabled};
  amp::LossScaleOptions dyn{};
  double first = 0;
  const double fp32 = train(Policy::O0(), off, 60, &first);
  EXPECT_LT(fp32, 0.3 * first);
  for (DType low : {DType::fp16, DType::bf16}) {
    const auto sc = low == DType::fp16 ? dyn : off;
    for (const Policy& p : {Policy::O1(low), Policy::O2(low), Policy::O3(low), Policy::O3(low, true)}) {
      const double l = train(p, sc, 60);
      EXPECT_LT(l, 0.3 * first) << p.describe();
    }
  }
  for (auto recipe : {amp::Fp8Recipe::delayed, amp::Fp8Recipe::current}) {
    const double l = train(Policy::FP8({.recipe = recipe}), off, 60);
    EXPECT_LT(l, 0.35 * first) << "fp8";
  }
}

TEST(AmpTraining, SkippedStepLeavesEverythingBitIdentical) {
  const amp::Policy policy = amp::Policy::O2(DType::fp16);
  nn::MLP model({.sizes = {16, 8, 4}, .seed = 1});
  model.apply_policy(policy);
  optim::AdamW opt(model.parameters(), policy, {.lr = 1e-2});
  amp::GradScaler scaler({.init_scale = 1024, .growth_interval = 1000});
  const Toy data = toy(32, 2);
  auto run_step = [&](bool inject_inf) {
    amp::Autocast guard(policy);
    Tensor loss = ops::cross_entropy(model(data.x), data.y);
    scaler.scale(loss).backward();
    if (inject_inf) model.parameters()[0].tensor->grad().data_as<float>()[3] = INFINITY;
    const bool applied = scaler.step(opt);
    scaler.update();
    opt.zero_grad();
    return applied;
  };
  EXPECT_TRUE(run_step(false));
  auto snapshot = [&] {
    std::vector<std::vector<unsigned char>> s;
    for (auto& p : model.parameters())
      s.emplace_back(static_cast<unsigned char*>(p.tensor->data()), static_cast<unsigned char*>(p.tensor->data()) + p.tensor->nbytes());
    for (auto& [n, t] : opt.state_tensors())
      s.emplace_back(static_cast<unsigned char*>(t->data()), static_cast<unsigned char*>(t->data()) + t->nbytes());
    return s;
  };
  const auto before = snapshot();
  EXPECT_FALSE(run_step(true));
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(scaler.get_scale(), 512.0);
  EXPECT_EQ(scaler.state().skipped_steps(), 1);
  EXPECT_TRUE(run_step(false));
  EXPECT_NE(snapshot(), before);
}

TEST(AmpTraining, AccumulatedMicroBatchesEqualOneBatch) {
  // Two half batches with loss/2 each, under a static loss scale, give the full batch's gradient.
  const Toy data = toy(64, 4);
  auto grads = [&](int micro) {
    nn::MLP model({.sizes = {16, 8, 4}, .seed = 9});
    amp::GradScaler scaler({.mode = amp::ScaleMode::constant, .init_scale = 128});
    for (int m = 0; m < micro; ++m) {
      const std::int64_t n = 64 / micro;
      const Tensor x = data.x.narrow0(m * n, (m + 1) * n);
      const std::vector<std::int64_t> y(data.y.begin() + m * n, data.y.begin() + (m + 1) * n);
      scaler.scale(ops::scale(ops::cross_entropy(model(x), y), 1.0 / micro)).backward();
    }
    return model.parameters()[0].tensor->grad().to_vector();
  };
  const auto one = grads(1), two = grads(2);
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-5f * (1 + std::abs(one[i])) * 128);
}

TEST(AmpTraining, ClippingSeesUnscaledGradients) {
  const amp::Policy policy = amp::Policy::O0();
  nn::Linear lin({.in = 3, .out = 1, .bias = false, .seed = 5});
  optim::SGD opt(lin.parameters(), policy, {.lr = 1.0});
  amp::GradScaler scaler({.init_scale = 256});
  const Tensor x = Tensor::from(std::vector<float>{1, 2, 2}, {1, 3});
  Tensor loss = ops::sum(lin(x));  // d loss / dW = x: norm 3
  scaler.scale(loss).backward();
  EXPECT_EQ(lin.weight().grad().to_vector()[1], 512.0f);  // scaled
  scaler.unscale(opt);
  const double norm = optim::clip_grad_norm(opt, 1.5);
  EXPECT_NEAR(norm, 3.0, 1e-9);
  const auto w0 = lin.weight().to_vector();
  scaler.step(opt);
  scaler.update();
  const auto w1 = lin.weight().to_vector();
  // The update is lr * x * (1.5 / 3): exactly half the unscaled gradient.
  EXPECT_NEAR(w0[0] - w1[0], 0.5, 1e-5);
  EXPECT_NEAR(w0[1] - w1[1], 1.0, 1e-5);
}

TEST(AmpPolicy, O2KeepsNormsFp32AndMapWins) {
  struct Net : nn::Module {
    nn::Linear* fc;
    nn::LayerNorm* ln;
    nn::Linear* head;
    Net() {
      fc = register_module("fc", std::make_unique<nn::Linear>(nn::LinearOptions{.in = 4, .out = 4}));
      ln = register_module("ln", std::make_unique<nn::LayerNorm>(nn::LayerNormOptions{.features = 4}));
      head = register_module("head", std::make_unique<nn::Linear>(nn::LinearOptions{.in = 4, .out = 2}));
    }
    std::string type() const override { return "Net"; }
    Tensor forward_impl(const Tensor& x) override { return head->forward(ln->forward(fc->forward(x))); }
  } net;
  amp::Policy p = amp::Policy::O2(DType::bf16);
  p.map = amp::PrecisionMap::parse("head=fp32");
  net.apply_policy(p);
  for (auto& prm : net.parameters()) {
    const DType want = prm.name.starts_with("ln.") || prm.name.starts_with("head.") ? DType::fp32 : DType::bf16;
    EXPECT_EQ(prm.tensor->dtype(), want) << prm.name;
  }
  EXPECT_EQ(p.gemm_dtype("head"), DType::fp32);
  EXPECT_EQ(p.gemm_dtype("fc"), DType::bf16);
  amp::Autocast guard(p);
  const Tensor x = Tensor::ones({2, 4});
  const Tensor h = net.fc->forward(x);
  EXPECT_EQ(h.dtype(), DType::bf16);
  // Norm parameters and statistics are fp32; the output keeps the input's dtype (bf16 here).
  EXPECT_EQ(net.ln->forward(h).dtype(), DType::bf16);
  EXPECT_EQ(net.forward(x).dtype(), DType::fp32);       // head forced to fp32 by the map
}

TEST(AmpPolicy, WeightsCastOncePerStep) {
  amp::Policy p = amp::Policy::O1(DType::bf16);
  nn::Linear lin({.in = 4, .out = 4, .seed = 2});
  const Tensor x = Tensor::ones({2, 4});
  amp::Autocast guard(p);
  lin(x);
  lin(x);
  lin(x);
  // The weight is cast once and reused twice. The bias is never cast (the fp32 epilogue reads it)
  // and inputs that are not parameters are never cached.
  EXPECT_EQ(guard.cache_hits(), 2);
}

TEST(AmpPolicy, NoGradActivationsAreNotServedFromTheCastCache) {
  // Under no-grad every tensor is a leaf and the caching allocator recycles storage: a cache keyed
  // by storage must not hand the cast of a freed activation to the next one.
  autograd::NoGradGuard ng;
  amp::Autocast guard(amp::Policy::O1(DType::bf16));
  const Tensor w = Tensor::ones({4, 4});
  for (int i = 1; i <= 4; ++i) {
    const Tensor x = Tensor::full({4, 4}, static_cast<double>(i));
    EXPECT_EQ(ops::matmul(x, w).to_vector()[0], 4.0f * static_cast<float>(i)) << "iteration " << i;
  }
}

TEST(AmpPolicy, AutocastNestsAndDisables) {
  const Tensor a = Tensor::ones({2, 2}), b = Tensor::ones({2, 2});
  amp::Autocast outer(amp::Policy::O1(DType::fp16));
  EXPECT_EQ(ops::matmul(a, b).dtype(), DType::fp16);
  {
    amp::Autocast off(amp::Policy::O1(DType::fp16), false);
    EXPECT_EQ(ops::matmul(a, b).dtype(), DType::fp32);
    amp::Autocast inner(amp::Policy::O1(DType::bf16));
    EXPECT_EQ(ops::matmul(a, b).dtype(), DType::bf16);
  }
  EXPECT_EQ(ops::matmul(a, b).dtype(), DType::fp16);
  EXPECT_EQ(ops::softmax(ops::matmul(a, b)).dtype(), DType::fp32);
}

// Small updates: a weight of 1.0 pulled by a constant gradient with lr 1e-3 moves 1e-3 per step,
// below half a bf16 ulp at 1.0 (2^-8): round-to-nearest loses every update.
TEST(AmpTraining, Bf16WithoutMastersStallsOnSmallUpdates) {
  auto run = [](const amp::Policy& p) {
    nn::Linear lin({.in = 1, .out = 1, .bias = false});
    lin.weight().fill(1.0);
    lin.apply_policy(p);
    optim::SGD opt(lin.parameters(), p, {.lr = 1e-3});
    for (int s = 0; s < 200; ++s) {
      amp::Autocast guard(p);
      Tensor loss = ops::sum(lin(Tensor::ones({1, 1})));  // gradient 1 on the weight
      loss.backward();
      opt.step();
      opt.zero_grad();
    }
    return lin.weight().to_vector()[0];  // ideal: 1 - 0.2 = 0.8
  };
  EXPECT_EQ(run(amp::Policy::O3(DType::bf16)), 1.0f);                  // stalled
  EXPECT_NEAR(run(amp::Policy::O2(DType::bf16)), 0.8, 0.004);          // masters accumulate
  EXPECT_NEAR(run(amp::Policy::O3(DType::bf16, true)), 0.8, 0.03);     // unbiased on average
}

}  // namespace
}  // namespace mixtrain
