// A program built against an installed mixtrain (tests/consumer/CMakeLists.txt): only
// PREFIX/include is on its include path, and every header is reached as <mixtrain/...>. It checks
// a conversion bit for bit, trains a small MLP in bf16 until the loss falls, and that the
// package's version and its header's agree. Exit 0 when all hold.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include <mixtrain/amp/autocast.h>
#include <mixtrain/amp/grad_scaler.h>
#include <mixtrain/nn/mlp.h>
#include <mixtrain/numerics/convert.h>
#include <mixtrain/ops/softmax_loss.h>
#include <mixtrain/optim/optimizer.h>
#include <mixtrain/version.h>

using namespace mixtrain;

namespace {

int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  expect(std::strcmp(MIXTRAIN_VERSION_STRING, CONSUMER_PACKAGE_VERSION) == 0, "header version == package version");

  // pi in bf16 is 3.140625 (0x4049); in e4m3, 3.25 (0x45).
  const float pi = 3.14159265f;
  std::uint16_t bf16 = 0;
  std::uint8_t e4m3 = 0;
  numerics::encode(&bf16, DType::bf16, &pi, 1);
  numerics::encode(&e4m3, DType::e4m3, &pi, 1);
  float back = 0;
  numerics::decode(&back, &bf16, DType::bf16, 1);
  expect(bf16 == 0x4049 && back == 3.140625f, "pi -> bf16");
  expect(e4m3 == 0x45, "pi -> e4m3");

  // 64 points in 2 classes told apart by the sign of their first feature.
  std::vector<float> xs;
  std::vector<std::int64_t> ys;
  const std::vector<float> noise = Tensor::randn({64, 8}, 7).to_vector();
  for (std::int64_t i = 0; i < 64; ++i) {
    ys.push_back(i % 2);
    for (std::int64_t j = 0; j < 8; ++j)
      xs.push_back(noise[static_cast<std::size_t>(i * 8 + j)] * 0.3f + (j == 0 ? (i % 2 ? 1.0f : -1.0f) : 0.0f));
  }
  const Tensor x = Tensor::from(xs, {64, 8});
  const amp::Policy policy = amp::Policy::O2(DType::bf16);
  nn::MLP model({.sizes = {8, 16, 2}, .seed = 3});
  model.apply_policy(policy);
  optim::AdamW opt(model.parameters(), policy, {.lr = 1e-2});
  amp::GradScaler scaler({.mode = amp::ScaleMode::disabled});
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    Tensor loss;
    {
      amp::Autocast autocast(policy);
      loss = ops::cross_entropy(model(x), ys);
    }
    (step == 0 ? first : last) = loss.item();
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
    opt.zero_grad();
  }
  std::printf("consumer: mixtrain %s, bf16 MLP loss %.4f -> %.4f\n", MIXTRAIN_VERSION_STRING, first, last);
  expect(last < 0.5 * first, "the bf16 MLP's loss halves in 40 steps");
  return failures == 0 ? 0 : 1;
}
