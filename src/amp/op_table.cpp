// The table itself.
#include "amp/op_table.h"

#include <iterator>

namespace mixtrain::amp {
namespace {

constexpr OpTableEntry kTable[] = {
    // lower: PyTorch autocast's "lower_precision_fp" list (mm, bmm, linear, conv*, baddbmm, ...).
    {"matmul", OpCategory::lower},
    {"linear", OpCategory::lower},
    {"conv2d", OpCategory::lower},
    {"causal_self_attention", OpCategory::lower},  // ops/attention.h's op name
    // fp32: PyTorch's "fp32" list (softmax, log_softmax, exp, log, pow, norms, losses, sum,...).
    {"softmax", OpCategory::fp32},
    {"log_softmax", OpCategory::fp32},
    {"exp", OpCategory::fp32},
    {"log", OpCategory::fp32},
    {"layer_norm", OpCategory::fp32},
    {"batch_norm", OpCategory::fp32},
    {"cross_entropy", OpCategory::fp32},
    {"mse", OpCategory::fp32},
    {"bce_with_logits", OpCategory::fp32},
    {"sum", OpCategory::fp32},
    {"mean", OpCategory::fp32},
    // promote: PyTorch's "promote" list (cat, stack, addcmul, ...) plus binary arithmetic, which
    // PyTorch promotes through type promotion rules.
    {"add", OpCategory::promote},
    {"sub", OpCategory::promote},
    {"mul", OpCategory::promote},
    {"div", OpCategory::promote},
    {"concat", OpCategory::promote},
};

}  // namespace

OpCategory op_category(std::string_view op) {
  for (const auto& e : kTable)
    if (e.op == op) return e.category;
  return OpCategory::none;
}

const OpTableEntry* op_table(std::size_t* count) {
  *count = std::size(kTable);
  return kTable;
}

}  // namespace mixtrain::amp
