// ZeRO-1 in one process, without MPI (so it runs in every build, the sanitizer one included):
// three optimizers that each own a third of the parameters laid end to end (cuts inside
// parameters), stepping on the same gradients with their updated slices exchanged, end with the
// same weights bit for bit as one unsharded optimizer, and their state slices are the slices of
// its state. Also: without mpirun the process group is the single process.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "amp/autocast.h"
#include "dist/communicator.h"
#include "nn/mlp.h"
#include "numerics/format.h"
#include "ops/softmax_loss.h"
#include "optim/optimizer.h"

namespace mixtrain {
namespace {

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.data());
  return {p, p + t.nbytes()};
}

TEST(DistShard, ThreeShardsStepLikeOneOptimizer) {
  const amp::Policy policy = amp::Policy::O2(DType::bf16);
  constexpr int kRanks = 3;
  nn::MLP whole({.sizes = {16, 24, 4}, .seed = 5});
  whole.apply_policy(policy);
  std::vector<std::unique_ptr<nn::MLP>> parts;
  for (int r = 0; r < kRanks; ++r) {
    parts.push_back(std::make_unique<nn::MLP>(nn::MLPOptions{.sizes = {16, 24, 4}, .seed = 5}));
    parts.back()->apply_policy(policy);
  }
  std::int64_t total = 0;
  for (const auto& p : whole.parameters()) total += p.tensor->numel();
  optim::AdamW ref(whole.parameters(), policy, {.lr = 1e-2, .weight_decay = 0.1});
  std::vector<std::unique_ptr<optim::AdamW>> opts;
  for (int r = 0; r < kRanks; ++r) {
    opts.push_back(std::make_unique<optim::AdamW>(parts[static_cast<std::size_t>(r)]->parameters(), policy,
                                                  optim::AdamWOptions{.lr = 1e-2, .weight_decay = 0.1}));
    opts.back()->shard(total * r / kRanks, total * (r + 1) / kRanks);
  }
  const Tensor x = Tensor::randn({32, 16}, 7);
  std::vector<std::int64_t> y;
  for (int i = 0; i < 32; ++i) y.push_back(i % 4);
  for (int step = 0; step < 4; ++step) {
    {
      amp::Autocast guard(policy);
      ops::cross_entropy(whole(x), y).backward();
    }
    // Every "rank" gets the reference's gradients (what the all-reduce hands each rank).
    for (int r = 0; r < kRanks; ++r) {
      auto pp = parts[static_cast<std::size_t>(r)]->parameters();
      for (std::size_t i = 0; i < pp.size(); ++i) pp[i].tensor->set_grad(whole.parameters()[i].tensor->grad().to(DType::fp32));
    }
    ref.step();
    ref.zero_grad();
    for (auto& o : opts) {
      o->step();
      o->zero_grad();
    }
    // The all-gather: each parameter element comes from the rank that owns it.
    std::int64_t at = 0;
    for (std::size_t i = 0; i < whole.parameters().size(); ++i) {
      const Tensor& w = *whole.parameters()[i].tensor;
      const std::size_t e = size_of(w.dtype());
      for (std::int64_t k = 0; k < w.numel(); ++k, ++at) {
        int owner = 0;
        while (at >= total * (owner + 1) / kRanks) ++owner;
        for (int r = 0; r < kRanks; ++r) {
          if (r == owner) continue;
          std::memcpy(static_cast<std::byte*>(parts[static_cast<std::size_t>(r)]->parameters()[i].tensor->data()) + k * e,
                      static_cast<const std::byte*>(parts[static_cast<std::size_t>(owner)]->parameters()[i].tensor->data()) + k * e, e);
        }
      }
    }
  }
  for (int r = 0; r < kRanks; ++r)
    for (std::size_t i = 0; i < whole.parameters().size(); ++i)
      EXPECT_EQ(bytes_of(*parts[static_cast<std::size_t>(r)]->parameters()[i].tensor), bytes_of(*whole.parameters()[i].tensor))
          << "rank " << r << " parameter " << whole.parameters()[i].name;
  // Each slice of state is the matching part of the unsharded state.
  const auto full = ref.state_slots();
  for (int r = 0; r < kRanks; ++r) {
    const auto slots = opts[static_cast<std::size_t>(r)]->state_slots();
    ASSERT_EQ(slots.size(), full.size());
    for (std::size_t k = 0; k < slots.size(); ++k) {
      EXPECT_EQ(slots[k].name, full[k].name);
      if (!slots[k].tensor) continue;
      const std::size_t e = size_of(slots[k].dtype);
      const auto* src = static_cast<const unsigned char*>(full[k].tensor->data()) + static_cast<std::size_t>(slots[k].offset) * e;
      EXPECT_EQ(bytes_of(*slots[k].tensor), std::vector<unsigned char>(src, src + slots[k].tensor->nbytes())) << slots[k].name;
    }
  }
}

TEST(DistShard, StochasticRoundingIsRefused) {
  amp::Policy policy = amp::Policy::O2(DType::bf16);
  policy.stochastic_rounding = true;
  nn::MLP m({.sizes = {4, 4}, .seed = 1});
  m.apply_policy(policy);
  optim::AdamW opt(m.parameters(), policy, {});
  EXPECT_THROW(opt.shard(0, 4), Error);
}

TEST(DistShard, WithoutMpirunTheGroupIsThisProcess) {
  EXPECT_EQ(dist::world().size(), 1);
  EXPECT_EQ(dist::world().rank(), 0);
  EXPECT_FALSE(dist::distributed());
  float f[3] = {1, 2, 3}, g[3] = {};
  dist::world().allgather(f, sizeof f, g);
  EXPECT_EQ(std::memcmp(f, g, sizeof f), 0);
}

}  // namespace
}  // namespace mixtrain
