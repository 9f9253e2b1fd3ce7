// causal_self_attention over kernels/cpu/attention.h. The (B, H, T, T) probabilities and the
// backward's dscores workspace are tensors, so they come from the caching allocator and the
// ledger sees them.
#include "ops/attention.h"

#include "autograd/grad_info.h"
#include "kernels/cpu/attention.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {

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
      kernels::cpu::attention_forward<U>(y.data_as<U>(), att.data_as<U>(), qc.data_as<U>(), kc.data_as<U>(), vc.data_as<U>(),
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
        kernels::cpu::attention_probs<U>(att.data_as<U>(), qc2.data_as<U>(), kc2.data_as<U>(), B, H, T, D);
        kernels::cpu::attention_backward<U>(dq.data_as<U>(), dk.data_as<U>(), dv.data_as<U>(), datt.data_as<U>(),
                                            gc.data_as<U>(), qc2.data_as<U>(), kc2.data_as<U>(), vc2.data_as<U>(),
                                            att.data_as<U>(), B, H, T, D);
      });
      return {q.requires_grad() ? dq : Tensor(), k.requires_grad() ? dk : Tensor(), v.requires_grad() ? dv : Tensor()};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
