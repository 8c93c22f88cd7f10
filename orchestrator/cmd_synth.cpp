// `mammosweep synth --out DIR ...`: write a synthetic mammogram dataset.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "orchestrator/cli.h"
#include "worker/synth.h"

namespace mammosweep::orchestrator {

Command add_synth_command(CLI::App& app) {
  auto opt = std::make_shared<worker::SynthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write synthetic mammogram-like images as OUT/{train,valid,test}/{0,1}/*.png");
  cmd->add_option("--out", opt->out, "Output folder")->required();
  cmd->add_option("--count", opt->count, "Total images")->capture_default_str()
      ->check(CLI::Range(3, 10000000));
  cmd->add_option("--malignant-fraction", opt->malignant_fraction, "Share of class 1")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--size", opt->size, "Side in pixels")->capture_default_str()
      ->check(CLI::Range(16, 4096));
  cmd->add_option("--seed", opt->seed, "Seed (same seed, same images)")->capture_default_str();
  cmd->add_option("--val-fraction", opt->val_fraction, "Share of each class in valid")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--test-fraction", opt->test_fraction, "Share of each class in test")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  return [opt, cmd]() {
    if (!cmd->parsed()) return -1;
    worker::write_synthetic_dataset(*opt);
    std::cout << fmt::format("wrote {} synthetic {}x{} mammograms to {}\n", opt->count,
                             opt->size, opt->size, opt->out);
    return static_cast<int>(kExitOk);
  };
}

}  // namespace mammosweep::orchestrator
