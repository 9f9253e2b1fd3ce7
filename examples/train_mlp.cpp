// The example of docs/TUTORIAL.md: train a small MLP classifier in mixed precision with the C++
// API, checkpoint it, load the checkpoint into a fresh model and evaluate it.
//
//   train_mlp [fp32|fp16|bf16|fp8] [CHECKPOINT_PATH]
//
// The data is synthetic (four Gaussian clusters in 16 dimensions), made here, so the example runs
// anywhere in a second or two. It exits 1 if the model did not learn or the restored model does
// not give the trained model's accuracy, so CI runs it as a test (examples/CMakeLists.txt).
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <mixtrain/amp/autocast.h>
#include <mixtrain/amp/grad_scaler.h>
#include <mixtrain/amp/policy.h>
#include <mixtrain/autograd/grad_info.h>
#include <mixtrain/nn/mlp.h>
#include <mixtrain/ops/softmax_loss.h>
#include <mixtrain/optim/optimizer.h>
#include <mixtrain/runtime/error.h>
#include <mixtrain/tensor/tensor.h>
#include <mixtrain/train/checkpoint.h>
#include <mixtrain/version.h>

using namespace mixtrain;

// n samples of 16 features in 4 classes that overlap a little: class c shifts features c, c+4,
// c+8 and c+12 of unit Gaussian noise by +1.5 (about 95% of samples can be told apart).
struct Batch {
  Tensor x;                        // [n, 16] fp32
  std::vector<std::int64_t> y;     // n labels in [0, 4)
};
Batch make_data(std::int64_t n, std::uint64_t seed) {
  const std::vector<float> noise = Tensor::randn({n, 16}, seed).to_vector();  // N(0, 1)
  std::vector<float> x(noise.size());
  Batch b;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = (i * 7 + static_cast<std::int64_t>(seed)) % 4;
    b.y.push_back(c);
    for (std::int64_t j = 0; j < 16; ++j) {
      const auto k = static_cast<std::size_t>(i * 16 + j);
      x[k] = noise[k] + (j % 4 == c ? 1.5f : 0.0f);
    }
  }
  b.x = Tensor::from(x, {n, 16});
  return b;
}

// [tutorial: policy]
// The precision policy: which ops run in which format, and whether a loss scale is needed.
struct Setup {
  amp::Policy policy;
  amp::LossScaleOptions scale;
};
Setup pick_precision(const std::string& name) {
  amp::LossScaleOptions none{.mode = amp::ScaleMode::disabled};
  if (name == "fp32") return {amp::Policy::O0(), none};
  // fp16 has 5 exponent bits: small gradients underflow unless the loss is scaled up first.
  if (name == "fp16") return {amp::Policy::O2(DType::fp16), amp::LossScaleOptions{}};  // dynamic
  // bf16 has fp32's exponent range, so it needs no loss scale.
  if (name == "bf16") return {amp::Policy::O2(DType::bf16), none};
  if (name == "fp8") return {amp::Policy::FP8(), none};  // E4M3 forward, E5M2 gradients
  throw Error("unknown precision '" + name + "' (expected fp32, fp16, bf16 or fp8)");
}
// [end]

// [tutorial: evaluate]
// Accuracy of the model on a batch: no autograd tape, eval mode, the same autocast policy.
double accuracy(nn::MLP& model, const amp::Policy& policy, const Batch& data) {
  autograd::NoGradGuard no_grad;
  model.eval();
  amp::Autocast autocast(policy);
  const std::vector<float> logits = model(data.x).to_vector();  // [n, 4], decoded to fp32
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < data.y.size(); ++i) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < 4; ++c)
      if (logits[i * 4 + c] > logits[i * 4 + best]) best = c;
    correct += static_cast<std::int64_t>(best) == data.y[i];
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(data.y.size());
}
// [end]

int run(const std::string& precision, const std::string& checkpoint_path) {
  std::printf("mixtrain %s, precision %s\n", MIXTRAIN_VERSION_STRING, precision.c_str());
  // [tutorial: model]
  const Setup setup = pick_precision(precision);
  nn::MLP model({.sizes = {16, 64, 64, 4}, .seed = 1});  // Linear-ReLU-Linear-ReLU-Linear
  model.apply_policy(setup.policy);  // O2: weights stored in the low format, fp32 masters kept
  optim::AdamW opt(model.parameters(), setup.policy, {.lr = 3e-3});
  amp::GradScaler scaler(setup.scale);
  // [end]

  const Batch train_set = make_data(2048, 1), test_set = make_data(512, 2);
  // [tutorial: train]
  for (int step = 0; step < 150; ++step) {
    const std::int64_t begin = (step * 256) % 2048;  // batches of 256, in order
    const Tensor x = train_set.x.narrow0(begin, begin + 256);
    const std::vector<std::int64_t> y(train_set.y.begin() + begin, train_set.y.begin() + begin + 256);

    Tensor loss;
    {
      amp::Autocast autocast(setup.policy);  // ops inside run in the policy's formats
      loss = ops::cross_entropy(model(x), y);
    }
    scaler.scale(loss).backward();  // loss * scale, so small fp16 gradients stay representable
    const bool applied = scaler.step(opt);  // unscales; skips the step if a gradient overflowed
    scaler.update();                // grows the scale after clean steps, halves it on overflow
    opt.zero_grad();
    if (step % 50 == 0 || !applied)
      std::printf("step %3d  loss %.4f  scale %g%s\n", step, loss.item(), scaler.get_scale(),
                  applied ? "" : "  (skipped: overflow)");
  }
  // [end]
  const double trained = accuracy(model, setup.policy, test_set);
  std::printf("test accuracy after training: %.3f\n", trained);

  // [tutorial: checkpoint]
  // Weights in their training dtypes, fp32 masters, optimizer moments and the scaler's state in
  // one safetensors file (PyTorch's safetensors.torch.load_file reads it). The run information
  // (a JSON object) must say at which step the checkpoint was taken.
  train::save_checkpoint(checkpoint_path, model, opt, scaler, {{"step", 150}, {"example", "train_mlp"}});

  nn::MLP restored({.sizes = {16, 64, 64, 4}, .seed = 99});  // different initial weights
  restored.apply_policy(setup.policy);                          // same dtypes as when saved
  train::load_checkpoint(checkpoint_path, restored, /*opt=*/nullptr, /*scaler=*/nullptr);
  const double reloaded = accuracy(restored, setup.policy, test_set);
  // [end]
  std::printf("test accuracy of the restored model: %.3f\n", reloaded);

  if (trained < 0.85 || reloaded != trained) {
    std::fprintf(stderr, "train_mlp: expected accuracy >= 0.85 and equal after reload, got %.3f and %.3f\n",
                 trained, reloaded);
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  const std::string precision = argc > 1 ? argv[1] : "fp16";
  const std::string checkpoint = argc > 2 ? argv[2] : "train_mlp.safetensors";
  try {
    return run(precision, checkpoint);
  } catch (const std::exception& e) {  // mixtrain::Error: one line saying what was wrong
    std::fprintf(stderr, "train_mlp: %s\n", e.what());
    return 2;
  }
}
