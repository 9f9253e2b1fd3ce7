// matmul and linear on top of the backend's gemm (backend/kernels.h).
#include "ops/linear.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "numerics/convert.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

using backend::Activation;
using backend::GemmOperand;
using backend::GemmOutput;

GemmOperand operand(const Tensor& t, std::int64_t ld, bool transposed) {
  return {t.data(), t.dtype(), ld, transposed, 1.0f / t.scale()};
}

// C (M, N) = op(A) op(B) into a new tensor of dtype od.
Tensor gemm2d(const Tensor& A, bool ta, const Tensor& B, bool tb, std::int64_t M, std::int64_t N,
              std::int64_t K, DType od) {
  Tensor C = Tensor::empty({M, N}, od);
  backend::kernels().gemm(M, N, K, 1.0f, operand(A, ta ? M : K, ta), operand(B, tb ? K : N, tb), 0.0f,
                     GemmOutput{C.data(), od, N}, {});
  return C;
}

}  // namespace

Tensor matmul(const Tensor& a0, const Tensor& b0, std::optional<DType> out) {
  const DType widest = promote(a0.dtype(), b0.dtype());
  const Tensor a = autocast("matmul", a0, widest), b = autocast("matmul", b0, widest);
  check(a.dim() >= 2 && b.dim() >= 2, "matmul: operands must be at least 2-d, got " + to_string(a.shape()) + " and " + to_string(b.shape()));
  const std::int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  check(b.size(-2) == K, "matmul: inner dimensions differ: " + to_string(a.shape()) + " @ " + to_string(b.shape()));
  const std::int64_t batch = a.numel() / (M * K);
  const bool shared_b = b.dim() == 2;
  check(shared_b || b.numel() / (K * N) == batch, "matmul: batch dimensions differ: " + to_string(a.shape()) + " @ " + to_string(b.shape()));
  const DType od = out.value_or(promote(a.dtype(), b.dtype()));
  Shape os(a.shape().begin(), a.shape().end() - 1);
  os.push_back(N);
  Tensor r = Tensor::empty(os, od);
  if (shared_b) {
    backend::kernels().gemm(batch * M, N, K, 1.0f, operand(a, K, false), operand(b, N, false), 0.0f, GemmOutput{r.data(), od, N}, {});
  } else {
    backend::kernels().gemm_batched(batch, M, N, K, 1.0f, operand(a, K, false), M * K, operand(b, N, false), K * N, 0.0f,
                               GemmOutput{r.data(), od, N}, M * N);
  }
  if (autograd::any_requires_grad({&a, &b})) {
    autograd::record(r, "matmul", {a, b}, [a, b, M, N, K, batch, shared_b](const Tensor& g) -> std::vector<Tensor> {
      const DType ga_t = compute_dtype({a.dtype()}), gb_t = compute_dtype({b.dtype()});
      Tensor ga, gb;
      if (a.requires_grad()) {  // dA = dC B^T
        ga = Tensor::empty(a.shape(), ga_t);
        if (shared_b)
          backend::kernels().gemm(batch * M, K, N, 1.0f, operand(g, N, false), operand(b, N, true), 0.0f, GemmOutput{ga.data(), ga_t, K}, {});
        else
          backend::kernels().gemm_batched(batch, M, K, N, 1.0f, operand(g, N, false), M * N, operand(b, N, true), K * N, 0.0f,
                                     GemmOutput{ga.data(), ga_t, K}, M * K);
      }
      if (b.requires_grad()) {  // dB = A^T dC (summed over the batch when B is shared)
        gb = Tensor::empty(b.shape(), gb_t);
        if (shared_b)
          backend::kernels().gemm(K, N, batch * M, 1.0f, operand(a, K, true), operand(g, N, false), 0.0f, GemmOutput{gb.data(), gb_t, N}, {});
        else
          backend::kernels().gemm_batched(batch, K, N, M, 1.0f, operand(a, K, true), M * K, operand(g, N, false), M * N, 0.0f,
                                     GemmOutput{gb.data(), gb_t, N}, K * N);
      }
      return {ga, gb};
    });
  }
  return r;
}

Tensor linear(const Tensor& x0, const Tensor& W0, const Tensor& b, Activation act, std::optional<DType> out,
              GradHook grad_hook) {
  const DType widest = promote(x0.dtype(), W0.dtype());
  const Tensor x = autocast("linear", x0, widest), W = autocast("linear", W0, widest);
  check(W.dim() == 2, "linear: weight must be 2-d (out, in), got " + to_string(W.shape()));
  const std::int64_t in = W.size(1), outf = W.size(0);
  check(x.dim() >= 1 && x.size(-1) == in, "linear: input " + to_string(x.shape()) + " does not end in " + std::to_string(in));
  check(!b.defined() || (b.dim() == 1 && b.size(0) == outf), "linear: bias must be (" + std::to_string(outf) + ")");
  const std::int64_t M = x.numel() / in;
  const DType od = out.value_or(x.dtype());
  const DType ct = compute_dtype({x.dtype(), W.dtype(), od});
  Shape os(x.shape().begin(), x.shape().end() - 1);
  os.push_back(outf);
  const Tensor bc = b.defined() ? as_dtype(b, ct) : Tensor();
  Tensor y, pre;  // pre: the pre-activation, kept (in od) only when the derivative needs it
  if (ct == DType::fp32) {
    // One GEMM whose epilogue adds the bias, stores the GELU's pre-activation and applies the
    // activation on each block of finished fp32 rows while it is in cache; the GEMM then
    // rounds the block once into od. No fp32 copy of the output exists.
    y = Tensor::empty(os, od);
    if (act == Activation::gelu) pre = Tensor::empty({M, outf}, od);
    const float* bias = bc.defined() ? bc.data_as<float>() : nullptr;
    auto* pre_data = pre.defined() ? static_cast<unsigned char*>(pre.data()) : nullptr;
    const std::size_t pre_size = size_of(od);
    const backend::GemmEpilogue epilogue = [&](std::int64_t r0, std::int64_t c0, std::int64_t rows,
                                                    std::int64_t cols, float* c, std::int64_t ldc) {
      const float* bj = bias ? bias + c0 : nullptr;
      if (act != Activation::gelu) {
        backend::kernels().bias_act_forward_block(c, ldc, bj, rows, cols, act);
        return;
      }
      backend::kernels().bias_act_forward_block(c, ldc, bj, rows, cols, Activation::identity);
      for (std::int64_t r = 0; r < rows; ++r)
        backend::kernels().conversions.encode_f32(pre_data + static_cast<std::size_t>((r0 + r) * outf + c0) * pre_size, od,
                                      c + r * ldc, static_cast<std::size_t>(cols), {});
      backend::kernels().bias_act_forward_block(c, ldc, nullptr, rows, cols, Activation::gelu);
    };
    backend::kernels().gemm(M, outf, in, 1.0f, operand(x, in, false), operand(W, in, true), 0.0f,
                       GemmOutput{y.data(), od, outf}, epilogue);
  } else {
    // fp64 (gradient checks): GEMM into the compute dtype, then bias + activation in place,
    // then one rounding to od. The fp64 tile is the output itself when od is fp64.
    Tensor z;
    {
      tensor::LedgerScope scope(od == ct ? tensor::current_category() : tensor::Category::workspace);
      z = gemm2d(x, false, W, true, M, outf, in, ct);
    }
    dispatch(ct, [&]<typename T>() {
      if (act == Activation::gelu) {
        backend::real<T>().bias_act_forward(z.data_as<T>(), z.data_as<T>(), bc.defined() ? bc.data_as<T>() : nullptr, M,
                                          outf, Activation::identity);
        pre = as_dtype(z, od);
        if (pre.storage_id() == z.storage_id()) pre = z.clone();
        backend::real<T>().bias_act_forward(z.data_as<T>(), z.data_as<T>(), nullptr, M, outf, Activation::gelu);
      } else {
        backend::real<T>().bias_act_forward(z.data_as<T>(), z.data_as<T>(), bc.defined() ? bc.data_as<T>() : nullptr, M,
                                          outf, act);
      }
    });
    y = as_dtype(z, od).view(os);
  }
  if (autograd::any_requires_grad({&x, &W, &b})) {
    autograd::record(y, "linear", {x, W, b},
                     [x, W, b, act, pre, yd = y.detach(), M, in, outf, ct, od, grad_hook](const Tensor& g) -> std::vector<Tensor> {
      // dZ = dY * act'(pre-activation) in the compute dtype; db = column sums of dZ.
      Tensor dz = g.view({M, outf});
      Tensor db;
      if (b.requires_grad()) {
        tensor::LedgerScope scope(tensor::Category::gradients);
        db = Tensor::empty({outf}, ct);
      }
      const Tensor& saved = act == Activation::gelu ? pre : yd;
      // The fp32 paths read dY's codes directly: only for unscaled dY (an fp8 dY with a scale
      // takes the general path, which applies it).
      const bool direct = ct == DType::fp32 && dz.scale() == 1.0f;
      if (direct && act == Activation::identity && !grad_hook) {
        // dZ is dY itself: the GEMMs read it in its own dtype (decoded exactly, so the products
        // are those of its fp32 copy) and only db needs a pass over it.
        if (db.defined()) backend::kernels().column_sums(db.data_as<float>(), dz.data(), dz.dtype(), M, outf);
      } else if (direct) {
        // One pass: dY and the saved activation are decoded row by row inside the kernel.
        Tensor dzc;
        {
          tensor::LedgerScope scope(tensor::Category::workspace);
          dzc = Tensor::empty({M, outf}, ct);
        }
        backend::kernels().bias_act_backward_from(dzc.data_as<float>(), db.defined() ? db.data_as<float>() : nullptr,
                                             dz.data(), dz.dtype(), saved.defined() ? saved.data() : nullptr,
                                             saved.defined() ? saved.dtype() : ct, M, outf, act);
        dz = dzc;
      } else {
        dz = as_dtype(dz, ct);
        if (act != Activation::identity || b.requires_grad()) {
          // dZ is transient (workspace); dW and db are parameter gradients (gradients).
          Tensor dzc;
          {
            tensor::LedgerScope scope(tensor::Category::workspace);
            dzc = Tensor::empty({M, outf}, ct);
          }
          const Tensor saved_ct = as_dtype(saved, ct);
          dispatch(ct, [&]<typename T>() {
            backend::real<T>().bias_act_backward(dzc.data_as<T>(), db.defined() ? db.data_as<T>() : nullptr,
                                               dz.data_as<T>(), saved_ct.data_as<T>(), nullptr, M, outf, act);
          });
          dz = dzc;
        }
      }
      // The gradient of a 16-bit activation is stored in 16 bits, as a low-precision backward
      // stores it (PyTorch autocast's GELU runs, and is differentiated, in bf16): when the whole
      // layer runs in one 16-bit format, dZ = dY * act' is rounded once into it, so that both
      // GEMMs below take 16-bit operands (on avx512_bf16 CPUs, the vdpbf16ps kernel) instead of
      // an fp32 x bf16 mix. db was summed from the fp32 dZ before the rounding.
      if (act != Activation::identity && numerics::spec(od).bits() == 16 && x.dtype() == od &&
          W.dtype() == od && dz.dtype() != od)
        dz = as_dtype(dz, od);
      if (grad_hook) dz = grad_hook(dz);
      Tensor dx, dW;
      if (x.requires_grad()) {
        // The activation gradient is written in x's dtype (rounded once), as a real
        // low-precision backward would store it.
        const DType dxt = numerics::spec(x.dtype()).bits() == 8 ? DType::fp32 : x.dtype();
        dx = gemm2d(dz, false, W, false, M, in, outf, dxt).view(x.shape());
      }
      if (W.requires_grad()) {
        tensor::LedgerScope scope(tensor::Category::gradients);
        dW = gemm2d(dz, true, x, false, outf, in, M, compute_dtype({W.dtype(), ct}));
      }
      return {dx, dW, db};
    });
  }
  return y;
}

}  // namespace mixtrain::ops
