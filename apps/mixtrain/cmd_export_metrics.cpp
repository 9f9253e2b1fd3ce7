// `mixtrain export-metrics RUN [--out FILE]`: a run's metrics.jsonl as one flat CSV table
// (train/metrics_csv.h) on stdout or, atomically, into FILE. RUN is a run directory (its
// metrics.jsonl, else the failed.metrics.jsonl a failed run leaves) or a metrics file itself.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <sstream>
#include <string>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/input_file.h"
#include "train/metrics.h"
#include "train/metrics_csv.h"

namespace mixtrain::app {
namespace {

std::string metrics_file_of(const std::string& run) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(run, ec)) return run;  // a file: read_text_file refuses what is not a regular one
  for (const char* name : {"metrics.jsonl", "failed.metrics.jsonl"})
    if (io::is_regular_file(run + "/" + name)) return run + "/" + name;
  throw Error("export-metrics: " + run + " has no metrics.jsonl (not a training run directory)");
}

}  // namespace

void register_export_metrics(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("export-metrics", "Write a run's metrics.jsonl as a flat CSV table (train and eval rows)");
  cmd->add_option("RUN", *run, "a run directory written by `mixtrain train --out`, or a metrics.jsonl file")->required();
  cmd->add_option("--out", *out, "write the CSV to FILE (atomically) instead of stdout")->type_name("FILE");
  cmd->callback([run, out] {
    const std::string path = metrics_file_of(*run);
    std::istringstream in(io::read_text_file(path));
    const std::string csv = train::metrics::to_csv(train::metrics::read_metrics(in, "export-metrics: " + path));
    if (out->empty()) {
      std::fwrite(csv.data(), 1, csv.size(), stdout);
      return;
    }
    io::write_file_atomic(*out, std::as_bytes(std::span(csv.data(), csv.size())));
  });
}

}  // namespace mixtrain::app
