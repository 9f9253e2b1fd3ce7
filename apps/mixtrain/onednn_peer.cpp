// oneDNN matmul peer (onednn_peer.h). Operands are filled with small values once; the weights
// take oneDNN's preferred layout (format_tag::any), as PyTorch's prepacked linear does.
#include "onednn_peer.h"

#include <memory>

#include "runtime/error.h"

#if MIXTRAIN_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace mixtrain::app {

#if MIXTRAIN_HAVE_DNNL
bool onednn_available() { return true; }

OnednnPeer make_onednn_matmul(std::int64_t m, std::int64_t n, std::int64_t k, bool bf16) {
  using namespace dnnl;
  try {
    struct State {
      engine eng{engine::kind::cpu, 0};
      stream s{eng};
      memory A, B, C;
      matmul mm;
    };
    auto st = std::make_shared<State>();
    const auto dt = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
    const auto ad = memory::desc({m, k}, dt, memory::format_tag::ab);
    const auto bd = memory::desc({k, n}, dt, memory::format_tag::any);
    const auto cd = memory::desc({m, n}, memory::data_type::f32, memory::format_tag::ab);
    const auto pd = matmul::primitive_desc(matmul::desc(ad, bd, cd), st->eng);  // oneDNN 2.x API
    st->A = memory(ad, st->eng);
    st->B = memory(pd.weights_desc(), st->eng);
    st->C = memory(cd, st->eng);
    // Bit pattern 0x3c3c.. is a small normal value in both bf16 and f32.
    for (memory* x : {&st->A, &st->B})
      std::fill_n(static_cast<unsigned char*>(x->get_data_handle()), x->get_desc().get_size(), 0x3c);
    st->mm = matmul(pd);
    return {bf16 ? "bf16" : "f32", [st] {
              st->mm.execute(st->s, {{DNNL_ARG_SRC, st->A}, {DNNL_ARG_WEIGHTS, st->B},
                                     {DNNL_ARG_DST, st->C}});
              st->s.wait();
            }};
  } catch (const dnnl::error& e) {
    throw Error(std::string("bench gemm: oneDNN peer: ") + e.what());
  }
}
#else
bool onednn_available() { return false; }
OnednnPeer make_onednn_matmul(std::int64_t, std::int64_t, std::int64_t, bool) {
  throw Error("bench gemm: this build has no oneDNN (install libdnnl-dev and reconfigure)");
}
#endif

}  // namespace mixtrain::app
