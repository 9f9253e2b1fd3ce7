// `mixtrain doctor RUN_DIR [--json]`: loads a training run directory, applies the numerics
// doctor's rules (train/doctor.h) and prints each finding with its evidence, the layers concerned
// and a recommendation, problems first. Each finding is a problem, a warning or a note
// (train/doctor.h); only problems fail. Exit status: 0 no problems (warnings and notes allowed),
// 1 problems found, 2 bad input (via main()).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "train/doctor.h"

namespace mixtrain::app {

void register_doctor(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("doctor", "Diagnose a training run's numerics: problems, warnings and notes (exit 0: no problems, 1: problems found, 2: bad input)");
  cmd->add_option("RUN_DIR", *dir, "a directory written by `mixtrain train --out`")->required();
  cmd->add_flag("--json", *json, "print the findings as one JSON object");
  cmd->callback([dir, json] {
    namespace d = train::doctor;
    const d::Run run = d::load_run(*dir);
    const auto findings = d::diagnose(run);
    const d::Tally count = d::tally(findings);
    // "?" for a setting the metrics do not name (or name in a way this version does not know).
    const auto named = [](const auto& v) { return v ? std::string(to_string(*v)) : std::string("?"); };
    if (*json) {
      std::printf("%s\n", d::verdict_json(*dir, run, findings).dump().c_str());
    } else {
      std::printf("doctor: %s (model %s, precision %s, %s, %zu steps%s)\n", dir->c_str(), named(run.config.model).c_str(),
                  named(run.config.precision).c_str(), named(run.config.opt_level).c_str(), run.points.size(), run.finished ? "" : ", did not finish");
      for (const auto& f : findings) {
        std::printf("\n%s [%s] %s\n  evidence: %s\n", std::string(d::to_string(f.severity)).c_str(), f.rule.c_str(),
                    f.title.c_str(), f.evidence.c_str());
        if (!f.layers.empty()) {
          std::string l;
          for (const auto& x : f.layers) l += (l.empty() ? "" : ", ") + x;
          std::printf("  concerns: %s\n", l.c_str());
        }
        std::printf("  recommendation: %s\n", f.recommendation.c_str());
        if (!f.precision_map.empty()) std::printf("  --precision-map '%s'\n", f.precision_map.c_str());
      }
      const auto plural = [](int n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); };
      std::string others;
      if (count.warnings > 0) others += plural(count.warnings, "warning");
      if (count.notes > 0) others += (others.empty() ? "" : ", ") + plural(count.notes, "note");
      if (count.problems == 0)
        std::printf("\nno problems found%s\n", others.empty() ? "" : (" (" + others + ")").c_str());
      else
        std::printf("\n%s found%s\n", plural(count.problems, "problem").c_str(), others.empty() ? "" : (", and " + others).c_str());
    }
    if (count.problems > 0) exit_status() = 1;
  });
}

}  // namespace mixtrain::app
