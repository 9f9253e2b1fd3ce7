// Entry point of the `mixtrain` tool: builds the CLI11 app from the subcommands and maps every
// error to one line on stderr ("mixtrain: ...") and an exit status: 2 for bad usage or bad input
// (mixtrain::Error), 1 for a run that failed on acceptable input (mixtrain::Failure: divergence,
// a full disk, out of memory), for unexpected internal failures, and for a command's negative
// verdict set through exit_status(), such as doctor's "problems found". --help prints to stdout
// and exits 0.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include "commands.h"
#include "backend/registry.h"
#include "dist/communicator.h"
#include "mixtrain/version.h"
#include "runtime/cpu_features.h"
#include "runtime/error.h"

namespace {

// The error contract is one line: control characters (newlines inside quoted file names or
// library messages) are replaced so scripts can rely on it.
int report(const char* what, int status) {
  std::string line;
  for (const char* p = what; *p; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    line += (c < 0x20 || c == 0x7F) ? ' ' : *p;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  // Under mpirun a rank that fails alone names itself and ends the job (docs/DISTRIBUTED.md).
  mixtrain::dist::abort_job_if_distributed(line, status);
  std::fprintf(stderr, "mixtrain: %s\n", line.c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mixtrain: mixed-precision training engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mixtrain ") + MIXTRAIN_VERSION_STRING);  // prints, exits 0
  // Which backend computes, for every subcommand (backend/registry.h); applied while the
  // arguments are parsed, before the subcommand runs. The flag wins over MIXTRAIN_BACKEND.
  app.add_option_function<std::string>(
         "--backend", [](const std::string& name) { mixtrain::backend::select_backend(name, "--backend"); },
         "kernels: cpu (default; threads, AVX2/AVX-512 tiers) | reference (scalar loops that check cpu); "
         "also MIXTRAIN_BACKEND")
      ->type_name("NAME");
  mixtrain::app::register_convert(app);
  mixtrain::app::register_formats(app);
  mixtrain::app::register_bench(app);
  mixtrain::app::register_train(app);
  mixtrain::app::register_compare(app);
  mixtrain::app::register_eval(app);
  mixtrain::app::register_inspect(app);
  mixtrain::app::register_doctor(app);
  mixtrain::app::register_export_metrics(app);
  try {
    // The kernel-selection variables are read here, before any work, so that a bad value is
    // one clear error rather than a failure inside a worker thread.
    mixtrain::runtime::isa_tier();
    mixtrain::backend::backend_table("cpu").gemm_kernel_name(mixtrain::DType::fp32, mixtrain::DType::fp32);
    mixtrain::backend::kernels();  // MIXTRAIN_BACKEND
    app.parse(argc, argv);  // runs the selected subcommand's callback
  } catch (const mixtrain::dist::CollectiveError& e) {
    // Every rank found the same bad launch setting: rank 0 says it once, all exit 2.
    if (mixtrain::dist::world().rank() != 0) return 2;
    std::fprintf(stderr, "mixtrain: %s\n", e.what());
    return 2;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help (and friends) print and succeed
    return report(e.what(), 2);
  } catch (const mixtrain::Failure& e) {
    return report(e.what(), 1);
  } catch (const mixtrain::Error& e) {
    return report(e.what(), 2);
  } catch (const std::filesystem::filesystem_error& e) {
    // The library checks paths before it uses them; this is the net for a race (a file removed
    // or replaced meanwhile): still one line naming the path, as bad input.
    return report((e.path1().string() + ": " + e.code().message()).c_str(), 2);
  } catch (const std::bad_alloc&) {
    return report("out of memory (lower --batch or the model size)", 1);
  } catch (const std::exception& e) {
    return report((std::string("internal error: ") + e.what()).c_str(), 1);
  }
  return mixtrain::app::exit_status();
}
