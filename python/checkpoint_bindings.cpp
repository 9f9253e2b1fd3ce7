// Checkpoints from Python: load_checkpoint() reads a safetensors file (a checkpoint, or any file
// in the format) into a dict of numpy arrays. Low-precision tensors (fp16, bf16, fp8) are decoded
// exactly to float32, since numpy has no bf16 or fp8 dtype; raw=True keeps their codes instead.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bindings.h"
#include "io/safetensors.h"
#include "numerics/convert.h"
#include "runtime/error.h"

namespace mixtrain::python {
namespace {

// The numpy dtype that holds a safetensors element as stored (for floats: their codes when the
// format has no numpy dtype).
py::dtype stored_dtype(const std::string& st) {
  if (st == "F64") return py::dtype::of<double>();
  if (st == "F32") return py::dtype::of<float>();
  if (st == "F16") return py::dtype("float16");
  if (st == "BF16") return py::dtype::of<std::uint16_t>();
  if (st == "F8_E4M3" || st == "F8_E5M2") return py::dtype::of<std::uint8_t>();
  if (st == "I64") return py::dtype::of<std::int64_t>();
  if (st == "I32") return py::dtype::of<std::int32_t>();
  if (st == "I16") return py::dtype::of<std::int16_t>();
  if (st == "I8") return py::dtype::of<std::int8_t>();
  if (st == "U64") return py::dtype::of<std::uint64_t>();
  if (st == "U32") return py::dtype::of<std::uint32_t>();
  if (st == "U16") return py::dtype::of<std::uint16_t>();
  if (st == "U8") return py::dtype::of<std::uint8_t>();
  if (st == "BOOL") return py::dtype::of<bool>();
  throw Error("safetensors dtype " + st + " has no numpy equivalent");
}

py::array to_array(const io::SafeTensor& t, bool raw) {
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  const auto dt = t.float_dtype();
  const bool decode = !raw && dt && *dt != DType::fp32 && *dt != DType::fp64;
  if (decode) {
    py::array out(py::dtype::of<float>(), shape);
    numerics::decode(static_cast<float*>(out.mutable_data()), t.data.data(), *dt, static_cast<std::size_t>(t.numel()));
    return out;
  }
  py::array out(stored_dtype(t.dtype), shape);
  if (!t.data.empty()) std::memcpy(out.mutable_data(), t.data.data(), t.data.size());
  return out;
}

py::dict load_checkpoint(const std::string& path, bool raw) {
  // A run directory names its newest checkpoint as DIR/checkpoint.safetensors (train/run_dir.h).
  std::string file = path;
  if (std::filesystem::is_directory(path)) {
    file = path + "/checkpoint.safetensors";
    check(std::filesystem::exists(file), path + ": a directory without checkpoint.safetensors (not a run directory)");
  }
  const io::SafeTensorsFile f = io::read_safetensors(file);
  py::dict out;
  for (const auto& t : f.tensors) out[py::str(t.name)] = to_array(t, raw);
  return out;
}

py::dict checkpoint_metadata(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = path + "/checkpoint.safetensors";
  py::dict out;
  for (const auto& [k, v] : io::read_safetensors(file).metadata) out[py::str(k)] = v;
  return out;
}

}  // namespace

void register_checkpoints(py::module_& m) {
  using namespace pybind11::literals;
  m.def("load_checkpoint", &load_checkpoint, "path"_a, py::kw_only(), "raw"_a = false,
        "Reads a checkpoint (a .safetensors file, or a run directory: its newest checkpoint) into "
        "{name: numpy array}: 'model.<param>' weights, 'master.<param>', 'optim.m.<param>', ... fp32 and fp64 "
        "stay as they are; fp16, bf16 and fp8 are decoded exactly to float32 (raw=True: their codes as uint16 "
        "/ uint8, fp16 as float16); integer and bool tensors keep their dtype.");
  m.def("checkpoint_metadata", &checkpoint_metadata, "path"_a,
        "The checkpoint's safetensors metadata {key: str}, each value a JSON string: 'run' (the step and the "
        "run's configuration), 'scaler', 'optimizer', 'fp8', 'format'.");
}

}  // namespace mixtrain::python
