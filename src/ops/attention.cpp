// causal_self_attention over the backend's attention kernels (backend/kernels.h). The
// (B, H, T, T) probabilities and the backward's dscores workspace are tensors, so they come from
// the caching allocator and the ledger sees them.
#include "ops/attention.h"

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

// The (B, T, G*H*D) row layout (G groups of heads side by side: G = 3 for qkv, 1 for the merged
// output) to G slabs of (B*H, T, D) in U = fp32/fp64, decoding rows of any dtype, and back.
template <typename U>
void to_heads(U* slabs, const Tensor& rows, std::int64_t B, std::int64_t T, std::int64_t G, std::int64_t H,
              std::int64_t D) {
  const auto& k = backend::kernels();
  if constexpr (sizeof(U) == 8) k.to_heads_f64(slabs, rows.data(), rows.dtype(), B, T, G, H, D);
  else k.to_heads_f32(slabs, rows.data(), rows.dtype(), B, T, G, H, D);
}

template <typename U>
void from_heads(Tensor& rows, const U* slabs, std::int64_t B, std::int64_t T, std::int64_t G, std::int64_t H,
                std::int64_t D) {
  const auto& k = backend::kernels();
  if constexpr (sizeof(U) == 8) k.from_heads_f64(rows.data(), rows.dtype(), slabs, B, T, G, H, D);
  else k.from_heads_f32(rows.data(), rows.dtype(), slabs, B, T, G, H, D);
}

}  // namespace

Tensor causal_self_attention(const Tensor& q0, const Tensor& k0, const Tensor& v0, std::optional<DType> out) {
  const DType widest = promote(promote(q0.dtype(), k0.dtype()), v0.dtype());
  const char* name = "causal_self_attention";
  const Tensor q = autocast(name, q0, widest), k = autocast(name, k0, widest), v = autocast(name, v0, widest);
  check(q.dim() == 4 && q.shape() == k.shape() && q.shape() == v.shape(),
        "causal_self_attention: q, k, v must be (B, H, T, D) of one shape, got " + to_string(q.shape()) + ", " +
            to_string(k.shape()) + ", " + to_string(v.shape()));
  const std::int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
  const DType od = out.value_or(promote(promote(q.dtype(), k.dtype()), v.dtype()));
  const DType ct = compute_dtype({q.dtype(), k.dtype(), v.dtype(), od});
  const Tensor qc = as_dtype(q, ct), kc = as_dtype(k, ct), vc = as_dtype(v, ct);
  Tensor y = Tensor::empty(q.shape(), ct);
  // The attention matrix (B*H*T*T values, in fp32: more than all of a GPT block's other
  // activations at T=128) is not kept for the backward: the backward recomputes it from q and k,
  // bit for bit, as FlashAttention does. Both copies are transient workspace.
  auto workspace_att = [B, H, T, ct] {
    tensor::LedgerScope scope(tensor::Category::workspace);
    return Tensor::empty({B, H, T, T}, ct);
  };
  {
    Tensor att = workspace_att();
    dispatch(ct, [&]<typename U>() {
      backend::real<U>().attention_forward(y.data_as<U>(), att.data_as<U>(), qc.data_as<U>(), kc.data_as<U>(), vc.data_as<U>(),
                                           B, H, T, D);
    });
  }
  Tensor r = as_dtype(y, od);
  if (autograd::any_requires_grad({&q, &k, &v})) {
    autograd::record(r, name, {q, k, v}, [q, k, v, B, H, T, D, ct, workspace_att](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct), qc2 = as_dtype(q, ct), kc2 = as_dtype(k, ct), vc2 = as_dtype(v, ct);
      Tensor dq = Tensor::empty(q.shape(), ct), dk = Tensor::empty(q.shape(), ct), dv = Tensor::empty(q.shape(), ct);
      Tensor att = workspace_att(), datt = workspace_att();
      dispatch(ct, [&]<typename U>() {
        backend::real<U>().attention_probs(att.data_as<U>(), qc2.data_as<U>(), kc2.data_as<U>(), B, H, T, D);
        backend::real<U>().attention_backward(dq.data_as<U>(), dk.data_as<U>(), dv.data_as<U>(), datt.data_as<U>(),
                                              gc.data_as<U>(), qc2.data_as<U>(), kc2.data_as<U>(), vc2.data_as<U>(),
                                              att.data_as<U>(), B, H, T, D);
      });
      return {q.requires_grad() ? dq : Tensor(), k.requires_grad() ? dk : Tensor(), v.requires_grad() ? dv : Tensor()};
    });
  }
  return r;
}

Tensor causal_self_attention_qkv(const Tensor& qkv0, std::int64_t H, std::optional<DType> out) {
  const char* name = "causal_self_attention";
  const Tensor qkv = autocast(name, qkv0, qkv0.dtype());
  check(qkv.dim() == 3 && H > 0 && qkv.size(2) % (3 * H) == 0,
        "causal_self_attention: qkv must be (B, T, 3C) with C a multiple of the " + std::to_string(H) +
            " heads, got " + to_string(qkv.shape()));
  const std::int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, D = C / H;
  const DType od = out.value_or(qkv.dtype());
  const DType ct = compute_dtype({qkv.dtype(), od});
  auto workspace = [](const Shape& s, DType t) {
    tensor::LedgerScope scope(tensor::Category::workspace);
    return Tensor::empty(s, t);
  };
  Tensor r = Tensor::empty({B, T, C}, od);
  dispatch(ct, [&]<typename U>() {
    const std::int64_t slab = B * H * T * D;
    Tensor heads = workspace({3, B, H, T, D}, ct), y = workspace({B, H, T, D}, ct), att = workspace({B, H, T, T}, ct);
    U* q = heads.data_as<U>();
    to_heads(q, qkv, B, T, 3, H, D);
    backend::real<U>().attention_forward(y.data_as<U>(), att.data_as<U>(), q, q + slab, q + 2 * slab, B, H, T, D);
    from_heads(r, y.data_as<const U>(), B, T, 1, H, D);
  });
  if (autograd::any_requires_grad({&qkv})) {
    autograd::record(r, name, {qkv}, [qkv, B, H, T, C, D, ct, workspace](const Tensor& g) -> std::vector<Tensor> {
      Tensor dqkv = Tensor::empty({B, T, 3 * C}, ct);
      dispatch(ct, [&]<typename U>() {
        const std::int64_t slab = B * H * T * D;
        Tensor heads = workspace({3, B, H, T, D}, ct), grads = workspace({3, B, H, T, D}, ct);
        Tensor gy = workspace({B, H, T, D}, ct), att = workspace({B, H, T, T}, ct), datt = workspace({B, H, T, T}, ct);
        U* q = heads.data_as<U>();
        U* dq = grads.data_as<U>();
        to_heads(q, qkv, B, T, 3, H, D);
        to_heads(gy.data_as<U>(), g, B, T, 1, H, D);
        backend::real<U>().attention_probs(att.data_as<U>(), q, q + slab, B, H, T, D);
        backend::real<U>().attention_backward(dq, dq + slab, dq + 2 * slab, datt.data_as<U>(), gy.data_as<const U>(), q,
                                              q + slab, q + 2 * slab, att.data_as<const U>(), B, H, T, D);
        from_heads(dqkv, grads.data_as<const U>(), B, T, 3, H, D);
      });
      return {dqkv};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
