// metrics.jsonl as one flat CSV table (`mixtrain export-metrics`), for spreadsheets and pandas:
// a row per step line ("train") and per eval line ("eval"), the scalar fields as columns, the
// nested statistics of sampled steps left out (only their grad_amax and headroom_log2). The
// columns are docs/OUTPUTS.md's; an empty cell is a field the line does not have.
#pragma once

#include <string>

#include "train/metrics.h"

namespace mixtrain::train::metrics {

// The header and one row per train and eval line, in file order, '\n'-terminated.
std::string to_csv(const MetricsLog& log);

}  // namespace mixtrain::train::metrics
