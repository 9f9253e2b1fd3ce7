// Tensor layer tests: factories, views that share storage, dtype conversions (exact values and
// fp8 scales), the memory ledger (live/peak per category and per dtype, scopes, reset, threads)
// and the caching allocator's reuse.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "tensor/allocator.h"
#include "tensor/ledger.h"
#include "tensor/tensor.h"

using namespace mixtrain;
using tensor::Category;
using tensor::Ledger;
using tensor::LedgerScope;

namespace {
std::size_t dt(DType t) { return static_cast<std::size_t>(t); }
std::size_t cat(Category c) { return static_cast<std::size_t>(c); }
}  // namespace

TEST(tensor_core, FactoriesShapeAndValues) {
  Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dtype(), DType::fp32);
  EXPECT_EQ(z.nbytes(), 24u);
  for (float v : z.to_vector()) EXPECT_EQ(v, 0.0f);
  Tensor o = Tensor::ones({4}, DType::bf16);
  EXPECT_EQ(o.nbytes(), 8u);
  for (float v : o.to_vector()) EXPECT_EQ(v, 1.0f);
  Tensor f = Tensor::full({2, 2}, 2.5, DType::fp16);
  for (float v : f.to_vector()) EXPECT_EQ(v, 2.5f);
  Tensor s = Tensor::full({}, 7.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 7.0);
  EXPECT_EQ(Tensor::from(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2}).size(-1), 2);
  EXPECT_THROW(Tensor::from(std::vector<float>{1, 2, 3}, {2, 2}), Error);
  EXPECT_THROW(Tensor::zeros({2, -1}), Error);
  EXPECT_THROW(z.item(), Error);
  EXPECT_THROW(z.size(2), Error);
}

TEST(tensor_core, RandomFactoriesAreSeededAndPlausible) {
  Tensor a = Tensor::randn({4096}, 42), b = Tensor::randn({4096}, 42), c = Tensor::randn({4096}, 43);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  EXPECT_NE(a.to_vector(), c.to_vector());
  double mean = 0, var = 0;
  for (float v : a.to_vector()) mean += v;
  mean /= 4096;
  for (float v : a.to_vector()) var += (v - mean) * (v - mean);
  var /= 4096;
  EXPECT_NEAR(mean, 0.0, 0.06);  // 4 sigma of the sample mean
  EXPECT_NEAR(var, 1.0, 0.1);
  Tensor u = Tensor::uniform({1000}, -2.0, 3.0, 7);
  float lo = 1e9f, hi = -1e9f;
  for (float v : u.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GE(lo, -2.0f);
  EXPECT_LT(hi, 3.0f);
  EXPECT_LT(lo, -1.9f);
  EXPECT_GT(hi, 2.9f);
}

TEST(tensor_core, ViewsShareStorage) {
  Tensor t = Tensor::from(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor v = t.view({2, 6});
  EXPECT_EQ(v.storage_id(), t.storage_id());
  EXPECT_EQ(v.data(), t.data());
  EXPECT_THROW(t.view({5}), Error);
  EXPECT_EQ(t.at({2, 1}), 9.0);
  EXPECT_EQ(v.at({1, 0}), 6.0);
  EXPECT_THROW(t.at({3, 0}), Error);
  EXPECT_THROW(t.at({1}), Error);
  Tensor rows = t.narrow0(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 4}));
  EXPECT_EQ(rows.storage_id(), t.storage_id());
  EXPECT_EQ(rows.to_vector(), (std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11}));
  // A write through the view is seen by the original.
  rows.data_as<float>()[0] = 100.0f;
  EXPECT_EQ(t.to_vector()[4], 100.0f);
  EXPECT_THROW(t.narrow0(2, 4), Error);
  Tensor c = t.clone();
  EXPECT_NE(c.storage_id(), t.storage_id());
  EXPECT_EQ(c.to_vector(), t.to_vector());
}

TEST(tensor_core, ConversionsRoundToNearestEven) {
  // 1 + 2^-8 is a tie between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one (1).
  // 1 + 3*2^-8 ties between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
  Tensor t = Tensor::from(std::vector<double>{1.0 + 0x1p-8, 1.0 + 3 * 0x1p-8, -2.0, 65504.0, 1e-8}, {5}, DType::fp64);
  EXPECT_EQ(t.to(DType::bf16).to_vector_f64(), (std::vector<double>{1.0, 1.0 + 0x1p-6, -2.0, 65536.0, 0x1.58p-27}));
  const auto h = t.to(DType::fp16).to_vector_f64();
  EXPECT_EQ(h[0], 1.0 + 0x1p-8);  // representable in fp16 (10 mantissa bits)
  EXPECT_EQ(h[3], 65504.0);
  EXPECT_EQ(h[4], 0x1p-24 * std::round(1e-8 / 0x1p-24));  // fp16 subnormal grid
  // Widening is exact; narrowing fp64 -> fp32 honours the rounding mode.
  Tensor w = Tensor::from(std::vector<double>{1.0 + 0x1p-30, 1.0 - 0x1p-30}, {2}, DType::fp64);
  EXPECT_EQ(w.to(DType::fp32).to_vector_f64(), (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(w.to(DType::fp32, numerics::Rounding::toward_zero).to_vector_f64(), (std::vector<double>{1.0, 1.0 - 0x1p-24}));
  EXPECT_EQ(t.to(DType::fp16).to(DType::fp64).to_vector_f64(), h);
  // Round trip through fp32 is exact for bf16 values.
  Tensor b = t.to(DType::bf16);
  EXPECT_EQ(b.to(DType::fp32).to(DType::bf16).to_vector(), b.to_vector());
}

TEST(tensor_core, Fp8CarriesItsScale) {
  Tensor t = Tensor::from(std::vector<float>{0.001f, -0.002f, 0.0005f}, {3});
  // Without a scale these tiny values lose most bits in e4m3; with scale 2^16 they are normal.
  Tensor q = t.to(DType::e4m3, numerics::Rounding::nearest, 0, 65536.0f);
  EXPECT_EQ(q.scale(), 65536.0f);
  EXPECT_EQ(q.nbytes(), 3u);
  const auto back = q.to_vector();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(back[i], t.to_vector()[i], std::fabs(t.to_vector()[i]) * 0.0625);
  // to() from an fp8 tensor divides by its scale.
  EXPECT_EQ(q.to(DType::fp32).to_vector(), back);
  // Re-quantising with another scale.
  Tensor q2 = q.to(DType::e5m2, numerics::Rounding::nearest, 0, 1024.0f);
  EXPECT_EQ(q2.scale(), 1024.0f);
  EXPECT_NEAR(q2.to_vector()[1], -0.002f, 0.002 * 0.125);
  // Exact example: 0.75 * 4 = 3 is exact in e4m3.
  Tensor e = Tensor::full({2}, 0.75).to(DType::e4m3, numerics::Rounding::nearest, 0, 4.0f);
  EXPECT_EQ(e.to_vector(), (std::vector<float>{0.75f, 0.75f}));
  EXPECT_EQ(e.item_at(0), 0.75);
  EXPECT_THROW(e.item_at(2), Error);
}

TEST(tensor_core, CopyFromAndFillConvert) {
  Tensor dst = Tensor::zeros({4}, DType::bf16);
  dst.copy_from(Tensor::from(std::vector<float>{1.0f, 1.00390625f, 3.0f, -0.5f}, {2, 2}));
  EXPECT_EQ(dst.to_vector(), (std::vector<float>{1.0f, 1.0f, 3.0f, -0.5f}));
  EXPECT_THROW(dst.copy_from(Tensor::zeros({3})), Error);
  dst.fill(-4.0);
  EXPECT_EQ(dst.to_vector(), (std::vector<float>(4, -4.0f)));
}

TEST(tensor_core, LedgerCountsLiveAndPeakPerCategoryAndDtype) {
  const auto before = Ledger::snapshot();
  {
    LedgerScope w(Category::weights);
    Tensor a = Tensor::zeros({256}, DType::bf16);  // 512 bytes
    EXPECT_EQ(a.category(), Category::weights);
    auto s = Ledger::snapshot();
    EXPECT_EQ(s.live[cat(Category::weights)] - before.live[cat(Category::weights)], 512);
    EXPECT_EQ(s.live_by_dtype[dt(DType::bf16)] - before.live_by_dtype[dt(DType::bf16)], 512);
    {
      LedgerScope m(Category::master_weights);  // nested scope wins
      Tensor b = Tensor::zeros({256}, DType::fp32);  // 1024 bytes
      EXPECT_EQ(b.category(), Category::master_weights);
      s = Ledger::snapshot();
      EXPECT_EQ(s.live[cat(Category::master_weights)] - before.live[cat(Category::master_weights)], 1024);
      EXPECT_EQ(s.live_by_dtype[dt(DType::fp32)] - before.live_by_dtype[dt(DType::fp32)], 1024);
      EXPECT_EQ(s.live_total - before.live_total, 1536);
    }
    Tensor c = Tensor::zeros({10}, DType::e4m3);  // back in the weights scope
    EXPECT_EQ(c.category(), Category::weights);
    EXPECT_EQ(Ledger::live(Category::weights) - before.live[cat(Category::weights)], 522);
  }
  const auto after = Ledger::snapshot();
  EXPECT_EQ(after.live, before.live);
  EXPECT_EQ(after.live_by_dtype, before.live_by_dtype);
  EXPECT_GE(after.peak[cat(Category::master_weights)], 1024);
  // Views do not allocate.
  Tensor t = Tensor::zeros({100});
  const auto live = Ledger::live_total();
  Tensor v = t.view({10, 10});
  Tensor r = t.narrow0(0, 50);
  EXPECT_EQ(Ledger::live_total(), live);
}

TEST(tensor_core, LedgerPeakResetsToLive) {
  LedgerScope s(Category::optimizer_state);
  Tensor keep = Tensor::zeros({1000});
  { Tensor big = Tensor::zeros({100000}); }
  EXPECT_GE(Ledger::peak(Category::optimizer_state), 404000);
  Ledger::reset_peaks();
  EXPECT_EQ(Ledger::peak(Category::optimizer_state), Ledger::live(Category::optimizer_state));
  EXPECT_EQ(Ledger::snapshot().peak_by_dtype[dt(DType::fp32)], Ledger::snapshot().live_by_dtype[dt(DType::fp32)]);
  { Tensor again = Tensor::zeros({2000}); }
  EXPECT_EQ(Ledger::peak(Category::optimizer_state) - Ledger::live(Category::optimizer_state), 8000);
  EXPECT_EQ(tensor::to_string(Category::optimizer_state), "optimizer_state");
}

TEST(tensor_core, LedgerIsThreadSafeAndScopesAreThreadLocal) {
  const auto before = Ledger::snapshot();
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([k] {
      LedgerScope s(k % 2 ? Category::workspace : Category::gradients);
      for (int i = 0; i < 500; ++i) {
        Tensor t = Tensor::zeros({64 + i % 7}, DType::fp16);
        EXPECT_EQ(t.category(), k % 2 ? Category::workspace : Category::gradients);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(tensor::current_category(), Category::activations);  // this thread's default
  const auto after = Ledger::snapshot();
  EXPECT_EQ(after.live, before.live);
  EXPECT_EQ(after.live_total, before.live_total);
}

TEST(tensor_core, CachingAllocatorReusesFreedBlocks) {
  { Tensor warm = Tensor::zeros({333, 77}); }
  const auto sys = tensor::CachingAllocator::system_allocations();
  for (int i = 0; i < 100; ++i) {
    Tensor t = Tensor::zeros({333, 77});
    Tensor u = Tensor::empty({77, 333}, DType::fp32);  // same byte count: a second block
    if (i == 0) continue;
  }
  // One more block for the second tensor at most, then everything comes from the free lists.
  EXPECT_LE(tensor::CachingAllocator::system_allocations() - sys, 1u);
  EXPECT_GE(tensor::CachingAllocator::cached_bytes(), 333u * 77u * 4u);
  // Blocks are 64-byte aligned.
  Tensor a = Tensor::empty({3}, DType::fp16);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % 64, 0u);
  tensor::CachingAllocator::empty_cache();
  EXPECT_EQ(tensor::CachingAllocator::cached_bytes(), 0u);
}
