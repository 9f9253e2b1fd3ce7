// Tensor contract tests: views that share storage (view, narrow0, reshape) versus copies
// (transpose), dtype conversions with round-to-nearest-even and fp8 scales, the memory ledger
// (live/peak per category and per dtype, scopes, reset_peaks — checked as deltas, since other
// tests in the process allocate too) and the caching allocator's reuse on a repeated op loop.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>

#include "autograd/grad_info.h"
#include "ops/attention.h"
#include "ops/batch_norm.h"
#include "ops/conv_pool.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax_loss.h"
#include "backend/cpu/workspace.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "tensor/allocator.h"
#include "tensor/ledger.h"
#include "tensor/tensor.h"

// The counting operator new/delete below are malloc/free based; GCC, inlining them into
// std::allocator, reports free() on an operator-new pointer (a false positive for replacements).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace mixtrain {
namespace {

using tensor::Category;
using tensor::CachingAllocator;
using tensor::Ledger;
using tensor::LedgerScope;

std::size_t dt(DType t) { return static_cast<std::size_t>(t); }
std::size_t cat(Category c) { return static_cast<std::size_t>(c); }

TEST(tensor_views, ViewAndNarrowShareStorage) {
  Tensor t = Tensor::from(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor v = t.view({2, 6});
  EXPECT_EQ(v.storage_id(), t.storage_id());
  EXPECT_EQ(v.data(), t.data());
  v.data_as<float>()[7] = 70.0f;
  EXPECT_EQ(t.to_vector()[7], 70.0f);
  EXPECT_THROW(t.view({5, 2}), Error);

  Tensor rows = t.narrow0(1, 3);
  EXPECT_EQ(rows.storage_id(), t.storage_id());
  EXPECT_EQ(rows.shape(), (Shape{2, 4}));
  EXPECT_EQ(rows.numel(), 8);
  EXPECT_EQ(rows.data_as<float>(), t.data_as<float>() + 4);
  EXPECT_EQ(rows.to_vector(), (std::vector<float>{4, 5, 6, 70, 8, 9, 10, 11}));
  rows.data_as<float>()[0] = -4.0f;
  EXPECT_EQ(t.to_vector()[4], -4.0f);
  EXPECT_EQ(t.narrow0(2, 2).numel(), 0);
  EXPECT_THROW(t.narrow0(2, 4), Error);

  // reshape (the differentiable one) also shares; detach shares without autograd state.
  Tensor r = ops::reshape(t, {4, -1});
  EXPECT_EQ(r.shape(), (Shape{4, 3}));
  EXPECT_EQ(r.storage_id(), t.storage_id());
  EXPECT_EQ(t.detach().storage_id(), t.storage_id());
}

TEST(tensor_views, TransposeCopies) {
  Tensor t = Tensor::from(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor tt = ops::transpose(t, 0, 1);
  EXPECT_NE(tt.storage_id(), t.storage_id());
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_EQ(tt.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  tt.data_as<float>()[1] = 99.0f;
  EXPECT_EQ(t.to_vector()[3], 3.0f);
  // Copies move codes, so a bf16 or fp8 transpose is exact and keeps the fp8 scale.
  const Tensor q = t.to(DType::e4m3, numerics::Rounding::nearest, 0, 4.0f);
  const Tensor qt = ops::transpose(q, 0, 1);
  EXPECT_EQ(qt.dtype(), DType::e4m3);
  EXPECT_EQ(qt.scale(), 4.0f);
  EXPECT_EQ(qt.to_vector(), ops::transpose(q.to(DType::fp32), 0, 1).to_vector());
}

TEST(tensor_convert, RoundToNearestEven) {
  // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1);
  // 1 + 3 * 2^-8 ties between 1 + 2^-7 and 1 + 2^-6 -> even (1 + 2^-6).
  const Tensor x = Tensor::from(std::vector<double>{1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20, -2.5}, {4}, DType::fp64);
  EXPECT_EQ(x.to(DType::bf16).to_vector_f64(), (std::vector<double>{1.0, 1 + 0x1p-6, 1 + 0x1p-7, -2.5}));
  // fp16 keeps 11: 1 + 2^-11 ties to 1; 65520 overflows to inf (IEEE rounding of the max + half ulp).
  const Tensor y = Tensor::from(std::vector<double>{1 + 0x1p-11, 1 + 3 * 0x1p-11, 65520.0}, {3}, DType::fp64);
  const auto yh = y.to(DType::fp16).to_vector_f64();
  EXPECT_EQ(yh[0], 1.0);
  EXPECT_EQ(yh[1], 1 + 0x1p-9);
  EXPECT_TRUE(std::isinf(yh[2]));
  // Widening is exact, and the dtype and scale are as asked.
  const Tensor h = y.to(DType::fp16);
  EXPECT_EQ(h.dtype(), DType::fp16);
  EXPECT_EQ(h.element_size(), 2u);
  EXPECT_EQ(h.to(DType::fp32).to_vector_f64(), yh);
  EXPECT_EQ(h.to(DType::fp32).scale(), 1.0f);
}

TEST(tensor_convert, Fp8CarriesItsScale) {
  const Tensor x = Tensor::from(std::vector<float>{0.1f, -0.02f, 3.0f, 0.0f}, {4});
  const Tensor q = x.to(DType::e4m3, numerics::Rounding::nearest, 0, 16.0f);
  EXPECT_EQ(q.dtype(), DType::e4m3);
  EXPECT_EQ(q.scale(), 16.0f);
  EXPECT_EQ(q.nbytes(), 4u);
  // Codes hold real * 16: 1.6 -> 1.625 (3 mantissa bits), -0.32 -> -0.3125, 48 -> 48.
  const auto v = q.to_vector_f64();
  EXPECT_EQ(v[0], 1.625 / 16);
  EXPECT_EQ(v[1], -0.3125 / 16);
  EXPECT_EQ(v[2], 3.0);
  EXPECT_EQ(v[3], 0.0);
  // Back to fp32: decoded and divided by the scale, scale 1.
  const Tensor f = q.to(DType::fp32);
  EXPECT_EQ(f.scale(), 1.0f);
  EXPECT_EQ(f.to_vector_f64(), v);
  // fp8 -> fp8 with another scale re-encodes the real values.
  const Tensor q2 = q.to(DType::e5m2, numerics::Rounding::nearest, 0, 2.0f);
  EXPECT_EQ(q2.scale(), 2.0f);
  EXPECT_EQ(q2.to_vector_f64()[2], 3.0);
  // e4m3 saturates or NaNs beyond 448 (E4M3FN has no inf): the scale is what keeps values in range.
  const Tensor big = Tensor::from(std::vector<float>{1000.0f}, {1});
  // 1000 * 0.25 = 250 lies between the e4m3 values 240 and 256 (step 16): nearest is 256.
  EXPECT_EQ(big.to(DType::e4m3, numerics::Rounding::nearest, 0, 0.25f).to_vector_f64()[0], 1024.0);
}

TEST(tensor_ledger, LivePerCategoryAndDtype) {
  const auto before = Ledger::snapshot();
  {
    LedgerScope scope(Category::weights);
    Tensor w = Tensor::empty({1000}, DType::fp16);
    EXPECT_EQ(w.category(), Category::weights);
    {
      LedgerScope inner(Category::optimizer_state);
      Tensor m = Tensor::zeros({100}, DType::fp32);
      EXPECT_EQ(m.category(), Category::optimizer_state);
      const auto mid = Ledger::snapshot();
      EXPECT_EQ(mid.live[cat(Category::optimizer_state)] - before.live[cat(Category::optimizer_state)], 400);
      EXPECT_EQ(mid.live_by_dtype[dt(DType::fp32)] - before.live_by_dtype[dt(DType::fp32)], 400);
    }
    EXPECT_EQ(tensor::current_category(), Category::weights);  // the inner scope restored it
    const auto s = Ledger::snapshot();
    EXPECT_EQ(s.live[cat(Category::weights)] - before.live[cat(Category::weights)], 2000);
    EXPECT_EQ(s.live_by_dtype[dt(DType::fp16)] - before.live_by_dtype[dt(DType::fp16)], 2000);
    EXPECT_EQ(s.live[cat(Category::optimizer_state)], before.live[cat(Category::optimizer_state)]);
    EXPECT_EQ(s.live_total - before.live_total, 2000);
    EXPECT_EQ(Ledger::live(Category::weights), s.live[cat(Category::weights)]);
    // Views add nothing: they share the storage.
    Tensor wv = w.view({10, 100});
    EXPECT_EQ(Ledger::live(Category::weights), s.live[cat(Category::weights)]);
  }
  EXPECT_EQ(tensor::current_category(), Category::activations);
  const auto after = Ledger::snapshot();
  for (Category c : tensor::kAllCategories) EXPECT_EQ(after.live[cat(c)], before.live[cat(c)]) << to_string(c);
  EXPECT_EQ(after.live_total, before.live_total);
}

TEST(tensor_ledger, PeaksAndReset) {
  Ledger::reset_peaks();
  const auto base = Ledger::snapshot();
  for (Category c : tensor::kAllCategories) EXPECT_EQ(base.peak[cat(c)], base.live[cat(c)]);
  EXPECT_EQ(base.peak_total, base.live_total);
  {
    LedgerScope scope(Category::workspace);
    Tensor a = Tensor::empty({4096}, DType::bf16);  // 8 KiB
    Tensor b = Tensor::empty({1024}, DType::fp32);  // 4 KiB
  }
  const auto s = Ledger::snapshot();
  EXPECT_EQ(s.live[cat(Category::workspace)], base.live[cat(Category::workspace)]);
  EXPECT_EQ(s.peak[cat(Category::workspace)] - base.live[cat(Category::workspace)], 8192 + 4096);
  EXPECT_EQ(s.peak_by_dtype[dt(DType::bf16)] - base.live_by_dtype[dt(DType::bf16)], 8192);
  EXPECT_GE(s.peak_total - base.live_total, 8192 + 4096);
  EXPECT_EQ(Ledger::peak(Category::workspace), s.peak[cat(Category::workspace)]);
  Ledger::reset_peaks();
  EXPECT_EQ(Ledger::peak(Category::workspace), Ledger::live(Category::workspace));
  EXPECT_EQ(Ledger::peak_total(), Ledger::live_total());
}

TEST(tensor_ledger, GradientsAreTaggedAsGradients) {
  Tensor w;
  {
    LedgerScope scope(Category::weights);
    w = Tensor::uniform({64, 32}, -1, 1, 1);
  }
  w.set_requires_grad(true);
  const Tensor x = Tensor::uniform({8, 32}, -1, 1, 2);
  const auto before = Ledger::live(Category::gradients);
  ops::sum(ops::linear(x, w)).backward();
  EXPECT_EQ(w.grad().category(), Category::gradients);
  EXPECT_EQ(Ledger::live(Category::gradients) - before, 64 * 32 * 4);
  w.zero_grad();
  EXPECT_EQ(Ledger::live(Category::gradients), before);
}

}  // namespace
}  // namespace mixtrain

// Counting replacement of the global operator new: heap blocks of at least kLarge bytes taken
// while g_count_large is set. The caching allocator uses aligned_alloc, so tensors are not
// counted; a per-call std::vector of activation size in an op would be.
namespace {
constexpr std::size_t kLarge = 4096;
std::atomic<bool> g_count_large{false};
std::atomic<std::uint64_t> g_large_allocs{0};
std::atomic<std::size_t> g_largest{0};
}  // namespace

void* operator new(std::size_t n) {
  if (g_count_large.load(std::memory_order_relaxed) && n >= kLarge) {
    g_large_allocs.fetch_add(1);
    std::size_t l = g_largest.load();
    while (n > l && !g_largest.compare_exchange_weak(l, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace mixtrain {
namespace {

// One training-like step over the ops: forward, loss, backward.
void step(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& img, const Tensor& k,
          const Tensor& gamma, const Tensor& beta, Tensor& rm, Tensor& rv, const Tensor& table, const Tensor& qkv) {
  Tensor h = ops::linear(x, w1, b1, backend::Activation::gelu);
  h = ops::dropout(ops::layer_norm(h, Tensor(), Tensor()), 0.1, 3);
  Tensor loss = ops::cross_entropy(ops::linear(h, w2), {0, 1, 2, 3, 0, 1, 2, 3});
  Tensor c = ops::conv2d(img, k, Tensor(), 2, 1);
  c = ops::batch_norm(ops::relu(c), gamma, beta, rm, rv, true);
  c = ops::avg_pool2d(ops::max_pool2d(c, 2, 2), 2, 1);
  loss = ops::add(loss, ops::mean(c));
  loss = ops::add(loss, ops::mean(ops::embedding(table, {1, 2, 2, 5}, {2, 2})));
  const Tensor a = ops::causal_self_attention(qkv, ops::scale(qkv, 0.5), qkv);
  loss = ops::add(loss, ops::sum(ops::softmax(a)));
  loss.backward();
}

TEST(tensor_allocator, RepeatedStepsReuseBlocks) {
  auto p = [](const Shape& s, std::uint64_t seed) {
    Tensor t = Tensor::uniform(s, -1, 1, seed);
    t.set_requires_grad(true);
    return t;
  };
  Tensor x = Tensor::uniform({8, 64}, -1, 1, 1), img = Tensor::uniform({4, 3, 16, 16}, -1, 1, 2);
  Tensor w1 = p({128, 64}, 3), b1 = p({128}, 4), w2 = p({4, 128}, 5), k = p({8, 3, 3, 3}, 6);
  Tensor gamma = p({8}, 7), beta = p({8}, 8), table = p({10, 16}, 9), qkv = p({2, 2, 16, 8}, 10);
  Tensor rm = Tensor::zeros({8}), rv = Tensor::ones({8});
  // Two warm-up steps: the first allocates, the second settles leaf gradients already held.
  for (int i = 0; i < 2; ++i) step(x, w1, b1, w2, img, k, gamma, beta, rm, rv, table, qkv);
  const auto sys = CachingAllocator::system_allocations();
  const auto live = Ledger::live_total();
  for (int i = 0; i < 10; ++i) {
    for (Tensor* t : {&w1, &b1, &w2, &k, &gamma, &beta, &table, &qkv}) t->zero_grad();
    step(x, w1, b1, w2, img, k, gamma, beta, rm, rv, table, qkv);
  }
  EXPECT_EQ(CachingAllocator::system_allocations(), sys);
  EXPECT_EQ(Ledger::live_total(), live);
  EXPECT_GT(CachingAllocator::cached_bytes(), 0u);
}

TEST(tensor_hot_path, NoLargeHeapAllocationPerStep) {
  auto p = [](const Shape& s, std::uint64_t seed) {
    Tensor t = Tensor::uniform(s, -1, 1, seed);
    t.set_requires_grad(true);
    return t;
  };
  // Activations of 4-16 KiB, so that a per-call heap copy of any of them would be counted.
  Tensor x = Tensor::uniform({32, 64}, -1, 1, 11), img = Tensor::uniform({4, 3, 16, 16}, -1, 1, 12);
  Tensor w1 = p({128, 64}, 13), b1 = p({128}, 14), w2 = p({4, 128}, 15), k = p({8, 3, 3, 3}, 16);
  Tensor gamma = p({8}, 17), beta = p({8}, 18), table = p({10, 16}, 19), qkv = p({2, 2, 16, 8}, 20);
  Tensor rm = Tensor::zeros({8}), rv = Tensor::ones({8});
  auto run = [&] {
    Tensor h = ops::linear(x, w1, b1, backend::Activation::gelu);
    h = ops::dropout(ops::layer_norm(h, Tensor(), Tensor()), 0.1, 3);
    Tensor loss = ops::mse(ops::linear(h, w2), Tensor::zeros({32, 4}));
    Tensor c = ops::conv2d(img, k, Tensor(), 2, 1);
    c = ops::batch_norm(ops::relu(c), gamma, beta, rm, rv, true);
    c = ops::avg_pool2d(ops::max_pool2d(c, 2, 2), 2, 1);
    loss = ops::add(loss, ops::mean(c));
    loss = ops::add(loss, ops::mean(ops::embedding(table, {1, 2, 2, 5}, {2, 2})));
    loss = ops::add(loss, ops::sum(ops::softmax(ops::causal_self_attention(qkv, qkv, qkv))));
    loss.backward();
    for (Tensor* t : {&w1, &b1, &w2, &k, &gamma, &beta, &table, &qkv}) t->zero_grad();
  };
  // The counter itself works: a heap block of kLarge bytes is seen.
  g_count_large = true;
  auto probe = std::make_unique<std::vector<char>>(kLarge);
  g_count_large = false;
  ASSERT_EQ(g_large_allocs.load(), 1u);
  run();
  run();
  // The only large blocks allowed are the kernels' per-thread scratch growing the first time a
  // pool thread runs a kernel (one block per thread and slot, ever; scratch_bytes() shows it).
  std::uint64_t growth_blocks = 0;
  for (int i = 0; i < 10; ++i) {
    const std::size_t scratch0 = backend::cpu::scratch_bytes();
    g_large_allocs = 0;
    g_count_large = true;
    run();
    g_count_large = false;
    const std::uint64_t n = g_large_allocs.load();
    if (n > 0) {
      EXPECT_GT(backend::cpu::scratch_bytes(), scratch0)
          << "step " << i << ": " << n << " heap block(s) of up to " << g_largest.load() << " bytes outside the scratch";
      growth_blocks += n;
    }
  }
  EXPECT_LE(growth_blocks, static_cast<std::uint64_t>(runtime::num_threads()) * static_cast<int>(backend::cpu::Scratch::count));
}

TEST(tensor_allocator, FreedBlocksAreHandedOutAgain) {
  const void* first;
  {
    Tensor t = Tensor::empty({3000}, DType::fp32);
    first = t.data();
  }
  const auto sys = CachingAllocator::system_allocations();
  Tensor again = Tensor::empty({3000}, DType::fp32);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(CachingAllocator::system_allocations(), sys);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(again.data()) % 64, 0u);
}

}  // namespace
}  // namespace mixtrain
