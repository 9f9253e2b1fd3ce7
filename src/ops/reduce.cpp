// Reductions as a broadcast-sum (sum_to) in the compute dtype: fp32 accumulation for every
// input narrower than fp64, in a fixed element order (deterministic).
#include "ops/reduce.h"

#include <algorithm>

#include "autograd/grad_info.h"
#include "ops/common.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace mixtrain::ops {
namespace {

std::vector<bool> reduced_mask(const Tensor& x, std::vector<std::int64_t> axes) {
  std::vector<bool> m(static_cast<std::size_t>(x.dim()), axes.empty());
  for (auto a : axes) {
    if (a < 0) a += x.dim();
    check(a >= 0 && a < x.dim(), "sum: axis out of range for shape " + to_string(x.shape()));
    m[static_cast<std::size_t>(a)] = true;
  }
  return m;
}

Tensor reduce(const char* name, const Tensor& x0, std::vector<std::int64_t> axes, bool keepdim,
              std::optional<DType> out, bool average) {
  const Tensor x = autocast(name, x0, x0.dtype());
  const auto mask = reduced_mask(x, axes);
  Shape keep_shape, out_shape;
  std::int64_t count = 1;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    keep_shape.push_back(mask[i] ? 1 : x.shape()[i]);
    if (!mask[i]) out_shape.push_back(x.shape()[i]);
    else count *= x.shape()[i];
  }
  const DType ct = compute_dtype({x.dtype()});
  const DType od = out.value_or(ct);
  const Tensor xc = as_dtype(x, ct);
  // sum_to reduces exactly the broadcast dims of keep_shape.
  Tensor s = sum_to(xc, keep_shape);
  if (s.storage_id() == xc.storage_id()) s = xc.clone();
  if (average && count > 0) {
    dispatch(ct, [&]<typename T>() {
      T* p = s.data_as<T>();
      for (std::int64_t i = 0; i < s.numel(); ++i) p[i] /= static_cast<T>(count);
    });
  }
  Tensor r = as_dtype(s, od).view(keepdim ? keep_shape : out_shape);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, name, {x}, [x, keep_shape, count, average, ct](const Tensor& g) -> std::vector<Tensor> {
      // Broadcast g back over the reduced dims.
      const Tensor gc = as_dtype(g, ct).view(keep_shape);
      Tensor gx = Tensor::empty(x.shape(), ct);
      dispatch(ct, [&]<typename T>() {
        const T f = average ? static_cast<T>(1) / static_cast<T>(count) : T(1);
        const T* pg = gc.data_as<T>();
        T* po = gx.data_as<T>();
        const BroadcastSplit split = split_broadcast(x.shape(), keep_shape);
        if (split.kind != BroadcastSplit::generic) {
          // Common layouts (a reduction over leading or trailing dims) expand in parallel.
          const auto C = static_cast<std::size_t>(split.cols);
          const bool prefix = split.kind == BroadcastSplit::prefix;
          const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 14) / std::max<std::size_t>(C, 1));
          runtime::parallel_for(static_cast<std::size_t>(split.rows), grain, [&](std::size_t b, std::size_t e) {
            for (std::size_t row = b; row < e; ++row)
              for (std::size_t c = 0; c < C; ++c) po[row * C + c] = pg[prefix ? c : row] * f;
          });
          return;
        }
        const std::size_t nd = keep_shape.size();
        std::vector<std::int64_t> st(nd, 0), idx(nd, 0);
        std::int64_t acc = 1;
        for (std::size_t d = nd; d-- > 0;) {
          st[d] = keep_shape[d] == 1 ? 0 : acc;
          acc *= keep_shape[d];
        }
        std::int64_t o = 0;
        for (std::int64_t k = 0; k < x.numel(); ++k) {
          po[k] = pg[o] * f;
          for (std::size_t d = nd; d-- > 0;) {
            ++idx[d];
            o += st[d];
            if (idx[d] < x.shape()[d]) break;
            o -= st[d] * idx[d];
            idx[d] = 0;
          }
        }
      });
      return {gx};
    });
  }
  return r;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim, std::optional<DType> out) {
  return reduce("sum", x, std::move(axes), keepdim, out, false);
}
Tensor mean(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim, std::optional<DType> out) {
  return reduce("mean", x, std::move(axes), keepdim, out, true);
}

}  // namespace mixtrain::ops
