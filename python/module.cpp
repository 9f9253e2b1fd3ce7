// The `mixtrain` Python module: the library's errors become Python exceptions, and each area of
// the API is registered from its own file (bindings.h). docs/PYTHON.md is the user's guide.
#include <pybind11/pybind11.h>

#include <cmath>
#include <filesystem>

#include "bindings.h"
#include "mixtrain/version.h"
#include "runtime/error.h"

namespace mixtrain::python {

py::object to_python(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(j.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(j.get<double>());
    case nlohmann::json::value_t::string: return py::str(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& e : j) out.append(to_python(e));
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [k, v] : j.items()) out[py::str(k)] = to_python(v);
      return out;
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded: break;
  }
  return py::none();
}

std::string type_name(const py::handle& obj) {
  const py::handle t = py::type::handle_of(obj);
  const std::string module = py::str(t.attr("__module__"));
  const std::string name = py::str(t.attr("__qualname__"));
  return module == "builtins" ? name : module + "." + name;
}

}  // namespace mixtrain::python

PYBIND11_MODULE(mixtrain, m) {
  namespace py = pybind11;
  m.doc() =
      "mixtrain: mixed-precision training engine. Number formats (convert, encode, decode, stats, "
      "format_info), training runs (train, compare, doctor) and checkpoints (load_checkpoint). "
      "Bad input raises mixtrain.Error (a ValueError); a run that fails on good input raises "
      "mixtrain.Failure (a subclass).";
  m.attr("__version__") = MIXTRAIN_VERSION_STRING;
  m.attr("version_info") = py::make_tuple(MIXTRAIN_VERSION_MAJOR, MIXTRAIN_VERSION_MINOR, MIXTRAIN_VERSION_PATCH);

  // The library's one-line errors, as the CLI's exit statuses 2 and 1 (apps/mixtrain/main.cpp).
  // pybind11 tries translators newest first, so Failure (derived from Error) is registered last.
  static py::exception<mixtrain::Error> error(m, "Error", PyExc_ValueError);
  static py::exception<mixtrain::Failure> failure(m, "Failure", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const mixtrain::Failure& e) {
      failure(e.what());
    } catch (const mixtrain::Error& e) {
      error(e.what());
    } catch (const std::filesystem::filesystem_error& e) {
      // The library checks paths before using them; this is the net for a race, as in the CLI.
      PyErr_SetString(PyExc_OSError, (e.path1().string() + ": " + e.code().message()).c_str());
    }
  });

  mixtrain::python::register_numerics(m);
  mixtrain::python::register_training(m);
  mixtrain::python::register_checkpoints(m);
}
