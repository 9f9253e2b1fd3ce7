// Which backend computes: a name -> kernel table registry. The built-in backends (cpu, reference)
// are listed in registry.cpp rather than registering themselves from static initialisers, which a
// static library drops when nothing references their object file; anything else (a test's fake,
// a future cuda backend) calls register_backend. The front ends choose one with `--backend NAME`
// or the MIXTRAIN_BACKEND environment variable.
//
// The choice is process-wide and meant to be made once, before any tensor work: kernels of two
// backends may keep different workspaces but never share partial state, so switching between
// steps is safe (tests do it), while switching during a step from another thread is not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backend/kernels.h"

namespace mixtrain::backend {

// Adds a backend under table.name; an empty name, a duplicate or a null entry is an Error
// (checked entry by entry, so a table that misses a family fails at start-up, not mid-run).
void register_backend(const Kernels& table);

// Makes `name` the active backend; an unknown name is an Error that lists the known ones and
// names `what` (the flag or variable it came from).
void select_backend(std::string_view name, std::string_view what = "--backend");

// The active backend's name and every registered name (sorted).
std::string_view active_backend();
std::vector<std::string> backend_names();

// The table of a registered backend by name, without activating it (the cross-check suite
// runs two backends side by side). Unknown names are an Error.
const Kernels& backend_table(std::string_view name);

// Scoped switch for tests: selects `name` and restores the previous backend on destruction.
class BackendScope {
 public:
  explicit BackendScope(std::string_view name);
  ~BackendScope();
  BackendScope(const BackendScope&) = delete;
  BackendScope& operator=(const BackendScope&) = delete;

 private:
  std::string saved_;
};

}  // namespace mixtrain::backend
