// What the parts of the Python module share: each binding file registers its functions on the
// module, and JSON results (summaries, doctor findings) become plain dicts and lists.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>
#include <string>

namespace mixtrain::python {

namespace py = pybind11;

void register_numerics(py::module_& m);    // numerics_bindings.cpp: formats, convert, stats
void register_training(py::module_& m);    // training_bindings.cpp: train, compare, doctor
void register_checkpoints(py::module_& m); // checkpoint_bindings.cpp: load_checkpoint

// A JSON value as the Python object json.loads would give (NaN stays NaN).
py::object to_python(const nlohmann::json& j);

// The str of a Python object's type, for error messages ("list", "numpy.ndarray").
std::string type_name(const py::handle& obj);

}  // namespace mixtrain::python
