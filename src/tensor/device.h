// Where a tensor's bytes live. cpu is the only device with an allocator today; cuda exists so that
// the type (and the per-device allocator and ledger registry of device_allocator.h) leaves room for
// a GPU backend without another change of every signature that takes a device.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mixtrain::tensor {

enum class DeviceType : std::uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;  // which device of its type (always 0 for cpu)
  friend constexpr bool operator==(Device, Device) = default;
};

inline constexpr Device kCpu{DeviceType::cpu, 0};

// Whether the host may read and write the bytes directly (data(), item(), to_vector(), ...).
constexpr bool host_accessible(Device d) { return d.type == DeviceType::cpu; }

// "cpu", "cuda:0", ...
std::string to_string(Device d);
// Parses "cpu", "cpu:0", "cuda" (= cuda:0) and "cuda:N"; anything else is a mixtrain::Error.
Device parse_device(std::string_view name);

}  // namespace mixtrain::tensor
