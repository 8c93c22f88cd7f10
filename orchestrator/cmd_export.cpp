// `mammosweep export DIR --out MODEL_DIR`: the command line of the export use case
// (export_model.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "orchestrator/cli.h"
#include "orchestrator/cli_options.h"
#include "orchestrator/deploy_formats.h"
#include "orchestrator/export_model.h"
#include "orchestrator/model_card.h"
#include "orchestrator/sweep_results.h"
#include "results/ranking.h"

namespace mammosweep::orchestrator {

namespace {

int run_export(ExportRequest request, const std::string& formats) {
  return with_input_errors([&]() {
    request.formats = parse_formats(formats);
    const ExportResult r = export_model(request);
    std::cout << fmt::format("exported trial {} ({}), epoch {}, rank {} of {} by {}: {}\n",
                             r.trial_name, r.trial_id, r.epoch, r.rank, r.ranked_trials,
                             results::metric_display_name(r.metric), fmt3(r.metric_value));
    std::cout << fmt::format("wrote {}\n", fmt::join(r.files, ", "));
    if (r.training_precision == "bf16") {
      std::cerr << "note: this trial was evaluated under bf16 autocast; predict runs in float32, "
                   "so its scores may differ slightly from the stored val scores\n";
    }
    return static_cast<int>(kExitOk);
  });
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto opt = std::make_shared<ExportRequest>();
  auto formats = std::make_shared<std::string>("safetensors");
  CLI::App* cmd = app.add_subcommand(
      "export", "Write the model of the week (or --trial) as a deployable model folder");
  add_sweep_dir_option(*cmd, opt->dir);
  cmd->add_option("--out", opt->out, "Model folder to write (model.safetensors, model.json, "
                                     "MODEL_CARD.md)")
      ->required();
  cmd->add_option("--trial", opt->trial, "Export this trial (id or name) instead of the winner");
  cmd->add_option("--format", *formats,
                  "Comma-separated formats to write: safetensors (always), onnx, tflite "
                  "(model.tflite + model-int8.tflite, from model.onnx; needs scripts/setup "
                  "--with-deploy)")
      ->capture_default_str();
  add_ranking_options(*cmd, opt->choice);
  return [opt, formats, cmd]() { return cmd->parsed() ? run_export(*opt, *formats) : -1; };
}

}  // namespace mammosweep::orchestrator
