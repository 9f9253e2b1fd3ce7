// Device names: the spelling PyTorch users expect ("cpu", "cuda:1"), parsed strictly so that a
// typo in a config fails at once rather than selecting some default device.
#include "tensor/device.h"

#include <charconv>

#include "runtime/error.h"

namespace mixtrain::tensor {

std::string to_string(Device d) {
  switch (d.type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::cuda: return "cuda:" + std::to_string(d.index);
  }
  return "?";
}

Device parse_device(std::string_view name) {
  auto bad = [&] {
    return Error("device: unknown device '" + std::string(name) + "' (expected cpu, cuda or cuda:N)");
  };
  const std::size_t colon = name.find(':');
  const std::string_view type = name.substr(0, colon);
  Device d;
  if (type == "cpu") d.type = DeviceType::cpu;
  else if (type == "cuda") d.type = DeviceType::cuda;
  else throw bad();
  if (colon == std::string_view::npos) return d;
  // An index: decimal digits only (no sign, no spaces, no trailing text), within int.
  const std::string_view digits = name.substr(colon + 1);
  if (digits.empty() || digits.front() < '0' || digits.front() > '9') throw bad();
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d.index);
  if (ec != std::errc() || end != digits.data() + digits.size()) throw bad();
  if (d.type == DeviceType::cpu && d.index != 0) throw bad();  // one host
  return d;
}

}  // namespace mixtrain::tensor
