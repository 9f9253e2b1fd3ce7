// Shape ops as byte copies: they move codes, never convert them, so they are exact in every dtype.
#include "ops/shape_ops.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "autograd/grad_info.h"
#include "backend/kernels.h"
#include "ops/common.h"
#include "runtime/error.h"

namespace mixtrain::ops {
namespace {

std::int64_t norm_dim(std::int64_t d, std::int64_t nd, const char* op) {
  if (d < 0) d += nd;
  check(d >= 0 && d < nd, std::string(op) + ": dimension out of range");
  return d;
}

// Permuted copy of element bytes (the backend's permute kernel), keeping x's fp8 scale.
Tensor permute_raw(const Tensor& x, const std::vector<std::int64_t>& perm) {
  const std::size_t nd = perm.size();
  Shape os(nd);
  for (std::size_t i = 0; i < nd; ++i) os[i] = x.shape()[static_cast<std::size_t>(perm[i])];
  Tensor y = Tensor::empty(os, x.dtype());
  y.set_scale(x.scale());
  backend::kernels().permute(y.data(), x.data(), x.element_size(), x.shape(), perm);
  return y;
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
  std::int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      check(infer < 0, "reshape: only one dimension can be -1");
      infer = static_cast<std::int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) shape[static_cast<std::size_t>(infer)] = known == 0 ? 0 : x.numel() / known;
  check(numel(shape) == x.numel(), "reshape: cannot reshape " + to_string(x.shape()) + " to " + to_string(shape));
  Tensor r = x.view(shape);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, "reshape", {x}, [s = x.shape()](const Tensor& g) -> std::vector<Tensor> { return {g.view(s)}; });
  }
  return r;
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& perm0) {
  const std::int64_t nd = x.dim();
  check(static_cast<std::int64_t>(perm0.size()) == nd, "permute: need one index per dimension");
  std::vector<std::int64_t> perm(perm0.size()), inv(perm0.size());
  std::vector<bool> seen(perm0.size(), false);
  for (std::size_t i = 0; i < perm0.size(); ++i) {
    perm[i] = norm_dim(perm0[i], nd, "permute");
    check(!seen[static_cast<std::size_t>(perm[i])], "permute: repeated dimension");
    seen[static_cast<std::size_t>(perm[i])] = true;
    inv[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
  }
  Tensor r = permute_raw(x, perm);
  if (autograd::any_requires_grad({&x})) {
    autograd::record(r, "permute", {x}, [inv](const Tensor& g) -> std::vector<Tensor> { return {permute_raw(g, inv)}; });
  }
  return r;
}

Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1) {
  std::vector<std::int64_t> perm(static_cast<std::size_t>(x.dim()));
  std::iota(perm.begin(), perm.end(), std::int64_t{0});
  std::swap(perm[static_cast<std::size_t>(norm_dim(d0, x.dim(), "transpose"))],
            perm[static_cast<std::size_t>(norm_dim(d1, x.dim(), "transpose"))]);
  return permute(x, perm);
}

namespace {
// Copies blocks: x viewed as (outer, n_dim * inner) into y viewed as (outer, m_dim * inner) at
// offset `at` along the middle dimension.
void copy_blocks(unsigned char* dst, std::int64_t dst_dim, std::int64_t at, const unsigned char* src,
                 std::int64_t src_begin, std::int64_t count, std::int64_t src_dim, std::int64_t outer,
                 std::int64_t inner, std::size_t es) {
  backend::kernels().copy_rows(dst + static_cast<std::size_t>(at * inner) * es, static_cast<std::size_t>(dst_dim * inner) * es,
                               src + static_cast<std::size_t>(src_begin * inner) * es,
                               static_cast<std::size_t>(src_dim * inner) * es, outer, static_cast<std::size_t>(count * inner) * es);
}
}  // namespace

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t begin, std::int64_t end) {
  dim = norm_dim(dim, x.dim(), "slice");
  const std::int64_t n = x.shape()[static_cast<std::size_t>(dim)];
  check(0 <= begin && begin <= end && end <= n, "slice: range [" + std::to_string(begin) + ", " + std::to_string(end) +
                                                    ") out of bounds for size " + std::to_string(n));
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < dim; ++d) outer *= x.shape()[static_cast<std::size_t>(d)];
  for (std::int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[static_cast<std::size_t>(d)];
  Shape os = x.shape();
  os[static_cast<std::size_t>(dim)] = end - begin;
  Tensor y = Tensor::empty(os, x.dtype());
  y.set_scale(x.scale());
  copy_blocks(static_cast<unsigned char*>(y.data()), end - begin, 0, static_cast<const unsigned char*>(x.data()), begin,
              end - begin, n, outer, inner, x.element_size());
  if (autograd::any_requires_grad({&x})) {
    autograd::record(y, "slice", {x}, [xs = x.shape(), dim, begin, end, n, outer, inner](const Tensor& g) -> std::vector<Tensor> {
      Tensor gx = Tensor::zeros(xs, g.dtype());
      copy_blocks(static_cast<unsigned char*>(gx.data()), n, begin, static_cast<const unsigned char*>(g.data()), 0,
                  end - begin, end - begin, outer, inner, g.element_size());
      return {gx};
    });
  }
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, std::int64_t dim) {
  check(!xs.empty(), "concat: no tensors");
  const Tensor& first = xs[0];
  dim = norm_dim(dim, first.dim(), "concat");
  std::int64_t total = 0;
  for (const auto& t : xs) {
    check(t.dim() == first.dim() && t.dtype() == first.dtype(), "concat: tensors differ in rank or dtype");
    for (std::int64_t d = 0; d < t.dim(); ++d)
      check(d == dim || t.shape()[static_cast<std::size_t>(d)] == first.shape()[static_cast<std::size_t>(d)],
            "concat: shapes " + to_string(t.shape()) + " and " + to_string(first.shape()) + " differ off the concat dim");
    total += t.shape()[static_cast<std::size_t>(dim)];
  }
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < dim; ++d) outer *= first.shape()[static_cast<std::size_t>(d)];
  for (std::int64_t d = dim + 1; d < first.dim(); ++d) inner *= first.shape()[static_cast<std::size_t>(d)];
  Shape os = first.shape();
  os[static_cast<std::size_t>(dim)] = total;
  Tensor y = Tensor::empty(os, first.dtype());
  std::int64_t at = 0;
  std::vector<std::int64_t> starts;
  for (const auto& t : xs) {
    const std::int64_t n = t.shape()[static_cast<std::size_t>(dim)];
    starts.push_back(at);
    copy_blocks(static_cast<unsigned char*>(y.data()), total, at, static_cast<const unsigned char*>(t.data()), 0, n, n,
                outer, inner, t.element_size());
    at += n;
  }
  bool any = false;
  for (const auto& t : xs) any = any || autograd::any_requires_grad({&t});
  if (any) {
    autograd::record(y, "concat", xs, [xs, dim, starts](const Tensor& g) -> std::vector<Tensor> {
      std::vector<Tensor> gs;
      for (std::size_t i = 0; i < xs.size(); ++i)
        gs.push_back(slice(g, dim, starts[i], starts[i] + xs[i].shape()[static_cast<std::size_t>(dim)]));
      return gs;
    });
  }
  return y;
}

}  // namespace mixtrain::ops
