// Number formats from Python: encode/decode/convert numpy arrays bit-exactly with the library's
// buffer kernels (numerics/convert.h), the statistics a format would produce (numerics/stats.h),
// and each format's constants. Arrays must be C-contiguous float32 (or float64 where stated); a
// wrong type, dtype or layout is a TypeError/ValueError naming the fix, never a silent copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "numerics/convert.h"
#include "numerics/format.h"
#include "numerics/stats.h"
#include "runtime/error.h"

namespace mixtrain::python {
namespace {

DType format_or_throw(const std::string& name) {
  const auto t = numerics::parse_dtype(name);
  check(t.has_value(), "unknown format '" + name + "' (expected one of: " + numerics::dtype_names() + ")");
  return *t;
}

numerics::Rounding rounding_or_throw(std::string name) {
  for (char& c : name)
    if (c == '_') c = '-';  // Python spelling toward_zero, CLI spelling toward-zero
  const auto r = numerics::parse_rounding(name);
  check(r.has_value(), "unknown rounding '" + name + "' (expected nearest, toward_zero or stochastic)");
  return *r;
}

// "float32", "uint8", ...: numpy's name of a dtype.
std::string dtype_name(const py::dtype& d) { return py::str(d.attr("name")); }

// The array behind `x`, checked: a numpy array, of float32 (or float64 when allowed), C-contiguous.
py::array checked_array(const py::handle& x, const char* arg, bool allow_f64) {
  const char* dtypes = allow_f64 ? "float32 or float64" : "float32";
  if (!py::isinstance<py::array>(x))
    throw py::type_error(std::string(arg) + " must be a numpy array of " + dtypes + ", got " + type_name(x) +
                         " (use np.asarray(" + arg + ", dtype=np.float32))");
  auto a = py::reinterpret_borrow<py::array>(x);
  const bool f32 = py::isinstance<py::array_t<float>>(a);
  const bool f64 = py::isinstance<py::array_t<double>>(a);
  if (!f32 && !(allow_f64 && f64))
    throw py::type_error(std::string(arg) + " must have dtype " + dtypes + ", got " +
                         dtype_name(a.dtype()) + " (use " + arg + ".astype(np.float32))");
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(arg) + " must be C-contiguous (use np.ascontiguousarray(" + arg + "))");
  return a;
}

std::vector<py::ssize_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

// The unsigned integer numpy dtype that holds one code of `t`.
py::dtype code_dtype(DType t) {
  switch (size_of(t)) {
    case 1: return py::dtype::of<std::uint8_t>();
    case 2: return py::dtype::of<std::uint16_t>();
    case 4: return py::dtype::of<std::uint32_t>();
    default: return py::dtype::of<std::uint64_t>();
  }
}

// Whether `a` holds native-endian unsigned integers of the width of one code of `t`.
bool has_code_dtype(const py::array& a, DType t) {
  switch (size_of(t)) {
    case 1: return py::isinstance<py::array_t<std::uint8_t>>(a);
    case 2: return py::isinstance<py::array_t<std::uint16_t>>(a);
    case 4: return py::isinstance<py::array_t<std::uint32_t>>(a);
    default: return py::isinstance<py::array_t<std::uint64_t>>(a);
  }
}

numerics::ConvertOptions options(const std::string& rounding, std::uint64_t seed, std::optional<bool> saturate,
                                 double scale) {
  numerics::ConvertOptions opt;
  opt.rounding = rounding_or_throw(rounding);
  opt.seed = seed;
  if (saturate) opt.overflow = *saturate ? numerics::Overflow::saturate : numerics::Overflow::inf;
  opt.scale = scale;
  return opt;
}

// The codes of x * scale in `format`, as unsigned integers of the format's width.
py::array encode(const py::handle& x, const std::string& format, const std::string& rounding, std::uint64_t seed,
                 std::optional<bool> saturate, double scale) {
  const py::array a = checked_array(x, "x", true);
  const DType to = format_or_throw(format);
  const auto opt = options(rounding, seed, saturate, scale);
  py::array codes(code_dtype(to), shape_of(a));
  const auto n = static_cast<std::size_t>(a.size());
  void* dst = codes.mutable_data();
  const bool f64 = py::isinstance<py::array_t<double>>(a);
  const void* src = a.data();
  {
    py::gil_scoped_release unlocked;  // multithreaded, reads and writes only the two buffers
    if (f64)
      numerics::encode(dst, to, static_cast<const double*>(src), n, opt);
    else
      numerics::encode(dst, to, static_cast<const float*>(src), n, opt);
  }
  return codes;
}

// The values of codes of `format` as float32 (float64 with dtype="float64").
py::array decode(const py::handle& codes_obj, const std::string& format, const std::string& dtype) {
  const DType from = format_or_throw(format);
  check(dtype == "float32" || dtype == "float64", "dtype must be 'float32' or 'float64', got '" + dtype + "'");
  if (!py::isinstance<py::array>(codes_obj))
    throw py::type_error("codes must be a numpy array of unsigned integers, got " + type_name(codes_obj));
  auto codes = py::reinterpret_borrow<py::array>(codes_obj);
  const py::dtype want = code_dtype(from);
  if (!has_code_dtype(codes, from))
    throw py::type_error("codes of " + format + " must have dtype " + dtype_name(want) + ", got " +
                         dtype_name(codes.dtype()));
  if (!(codes.flags() & py::array::c_style))
    throw py::value_error("codes must be C-contiguous (use np.ascontiguousarray(codes))");
  const bool f64 = dtype == "float64";
  py::array out(f64 ? py::dtype::of<double>() : py::dtype::of<float>(), shape_of(codes));
  const auto n = static_cast<std::size_t>(codes.size());
  void* dst = out.mutable_data();
  const void* src = codes.data();
  {
    py::gil_scoped_release unlocked;
    if (f64)
      numerics::decode(static_cast<double*>(dst), src, from, n);
    else
      numerics::decode(static_cast<float*>(dst), src, from, n);
  }
  return out;
}

// decode(encode(x)): what storing x in `format` keeps, in x's own dtype.
py::array convert(const py::handle& x, const std::string& format, const std::string& rounding, std::uint64_t seed,
                  std::optional<bool> saturate, double scale) {
  const py::array a = checked_array(x, "x", true);
  const bool f64 = py::isinstance<py::array_t<double>>(a);
  const py::array codes = encode(a, format, rounding, seed, saturate, scale);
  return decode(codes, format, f64 ? "float64" : "float32");
}

py::dict stats(const py::handle& x, const std::string& format, float scale) {
  const py::array a = checked_array(x, "x", false);
  const DType target = format_or_throw(format);
  numerics::FormatStats s;
  float amax = 0;
  const auto* p = static_cast<const float*>(a.data());
  const auto n = static_cast<std::size_t>(a.size());
  {
    py::gil_scoped_release unlocked;
    s = numerics::analyse(p, n, target, scale);
    amax = n == 0 ? 0.0f : numerics::abs_max(p, n);
  }
  py::dict hist;  // only the exponents that occur, ascending
  for (int b = 0; b < numerics::kHistBins; ++b)
    if (const auto c = s.exponent_hist[static_cast<std::size_t>(b)]; c != 0) hist[py::int_(b + numerics::kHistMinExponent)] = c;
  py::dict d;
  d["format"] = std::string(name(target));
  d["count"] = s.count;
  d["zeros"] = s.zeros;
  d["nans"] = s.nans;
  d["infs"] = s.infs;
  d["overflow"] = s.overflow;
  d["subnormal"] = s.subnormal;
  d["flush"] = s.flush;
  d["overflow_fraction"] = s.overflow_fraction();
  d["subnormal_fraction"] = s.subnormal_fraction();
  d["flush_fraction"] = s.flush_fraction();
  d["amax"] = amax;
  d["exponent_histogram"] = hist;
  return d;
}

py::dict format_info(const std::string& format) {
  const auto& f = numerics::spec(format_or_throw(format));
  py::dict d;
  d["name"] = std::string(f.name);
  d["safetensors"] = std::string(f.safetensors);
  d["bits"] = f.bits();
  d["exponent_bits"] = f.exponent_bits;
  d["mantissa_bits"] = f.mantissa_bits;
  d["bias"] = f.bias;
  d["max"] = numerics::max_value(f);
  d["min_normal"] = numerics::min_normal(f);
  d["min_subnormal"] = numerics::min_subnormal(f);
  d["epsilon"] = numerics::epsilon(f);
  d["has_inf"] = f.has_inf();
  d["has_nan"] = f.has_nan();
  d["saturates_by_default"] = f.default_overflow == numerics::Overflow::saturate;
  return d;
}

}  // namespace

void register_numerics(py::module_& m) {
  using namespace pybind11::literals;
  m.def("formats", [] {
    std::vector<std::string> out;
    for (DType t : kAllDTypes) out.emplace_back(name(t));
    return out;
  }, "The format names: fp64 fp32 fp16 bf16 e4m3 e5m2 (aliases such as 'bfloat16' and 'float8_e4m3fn' are accepted too).");
  m.def("format_info", &format_info, "format"_a,
        "A format's layout and constants: bits, exponent_bits, mantissa_bits, bias, max, min_normal, "
        "min_subnormal, epsilon, has_inf, has_nan, saturates_by_default.");
  m.def("encode", &encode, "x"_a, "format"_a, py::kw_only(), "rounding"_a = "nearest", "seed"_a = 0,
        "saturate"_a = py::none(), "scale"_a = 1.0,
        "Encodes x * scale (a C-contiguous float32 or float64 array) into `format` and returns the codes, as "
        "uint8 (fp8), uint16 (fp16, bf16), uint32 or uint64 of x's shape.\n\n"
        "rounding: 'nearest' (ties to even), 'toward_zero' or 'stochastic' (element i's random bits come from "
        "(seed, i) alone, so results do not depend on threads). saturate: None keeps the format's default "
        "(e4m3/e5m2 saturate to +-max, fp16/bf16 overflow to inf); True clamps, False gives inf (NaN for e4m3).");
  m.def("decode", &decode, "codes"_a, "format"_a, py::kw_only(), "dtype"_a = "float32",
        "Decodes codes of `format` (as encode returns them) exactly into float32 (or dtype='float64').");
  m.def("convert", &convert, "x"_a, "format"_a, py::kw_only(), "rounding"_a = "nearest", "seed"_a = 0,
        "saturate"_a = py::none(), "scale"_a = 1.0,
        "What storing x * scale in `format` keeps: decode(encode(x, ...)), as an array of x's dtype and shape. "
        "Options as for encode.");
  m.def("stats", &stats, "x"_a, "format"_a, py::kw_only(), "scale"_a = 1.0f,
        "What `format` would do to x * scale (C-contiguous float32), rounding to nearest: counts and fractions of "
        "values that overflow, become subnormal or flush to zero, zeros/nans/infs, amax of x, and "
        "exponent_histogram {floor(log2|v|): count} over the finite nonzero values.");
}

}  // namespace mixtrain::python
