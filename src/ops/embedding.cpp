// embedding over the backend's embedding family. fp32/fp64 tables use the kernel directly; narrower
// tables are gathered as raw codes (exact) so that a large bf16 table is never converted whole.
#include "ops/embedding.h"

#include <cstring>

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {

Tensor embedding(const Tensor& table0, const std::vector<std::int64_t>& ids, const Shape& ids_shape,
                 std::optional<DType> out) {
  const Tensor table = autocast("embedding", table0, table0.dtype());
  check(table.dim() == 2, "embedding: table must be (V, D), got " + to_string(table.shape()));
  const std::int64_t V = table.size(0), D = table.size(1), N = static_cast<std::int64_t>(ids.size());
  check(numel(ids_shape) == N, "embedding: " + std::to_string(N) + " ids do not fill shape " + to_string(ids_shape));
  for (std::int64_t i = 0; i < N; ++i) {
    const std::int64_t id = ids[static_cast<std::size_t>(i)];
    check(id >= 0 && id < V, "embedding: id " + std::to_string(id) + " at position " + std::to_string(i) +
                                 " is outside [0, " + std::to_string(V) + ")");
  }
  Shape os = ids_shape;
  os.push_back(D);
  Tensor y = Tensor::empty(os, table.dtype());
  y.set_scale(table.scale());
  if (table.dtype() == DType::fp32 || table.dtype() == DType::fp64) {
    dispatch(table.dtype(), [&]<typename T>() {
      backend::real<T>().embedding_forward(y.data_as<T>(), table.data_as<T>(), ids.data(), N, V, D);
    });
  } else {
    // Narrower tables: rows gathered as bytes (the codes are the values; fp8 keeps its scale).
    backend::kernels().gather_rows(y.data(), table.data(), static_cast<std::size_t>(D) * table.element_size(), ids.data(), N);
  }
  // Codes in the table's own dtype are returned as they are (an fp8 table keeps its scale;
  // as_dtype would re-encode fp8 at scale 1).
  const DType od = out.value_or(table.dtype());
  Tensor r = od == y.dtype() ? y : as_dtype(y, od);
  if (autograd::any_requires_grad({&table})) {
    // The ids are kept as int64 bits in a tensor of an 8-byte dtype: caching allocator and
    // ledger, not a per-call heap vector.
    Tensor saved_ids = Tensor::empty({N}, DType::fp64);
    if (N > 0) std::memcpy(saved_ids.data(), ids.data(), static_cast<std::size_t>(N) * sizeof(std::int64_t));
    const DType ct = compute_dtype({table.dtype()});
    autograd::record(r, "embedding", {table}, [saved_ids, N, V, D, ct](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = as_dtype(g, ct);
      Tensor dtable = Tensor::empty({V, D}, ct);
      dispatch(ct, [&]<typename T>() {
        backend::real<T>().embedding_backward(dtable.data_as<T>(), gc.data_as<T>(),
                                            static_cast<const std::int64_t*>(saved_ids.data()), N, V, D);
      });
      return {dtable};
    });
  }
  return r;
}

}  // namespace mixtrain::ops
