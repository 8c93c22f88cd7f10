// `mammosweep plan SPEC`: validate a spec and print the trials it expands to.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/disk.h"
#include "orchestrator/cli.h"
#include "orchestrator/retention.h"
#include "orchestrator/text_table.h"
#include "sweeps/parse.h"
#include "sweeps/search_space.h"
#include "sweeps/trial.h"

namespace mammosweep::orchestrator {

namespace {

struct PlanOptions {
  std::string spec;
  std::string format = "table";
};

int plan(const PlanOptions& opt) {
  sweeps::SweepSpec spec = sweeps::load_spec(opt.spec);
  std::vector<sweeps::Trial> trials = sweeps::expand(spec);
  for (const auto& note : spec.notes) std::cerr << note << "\n";  // stdout stays the plan
  const nlohmann::json keep_top = spec.checkpoints.keep_top_trials
                                      ? nlohmann::json(*spec.checkpoints.keep_top_trials)
                                      : nlohmann::json("all");
  if (opt.format == "json") {
    nlohmann::json j = {{"name", spec.name},
                        {"method", sweeps::to_string(spec.method)},
                        {"seed", spec.seed},
                        {"metric", {{"name", spec.metric.name}, {"goal", sweeps::to_string(spec.metric.goal)}}},
                        {"early_stopping", {{"policy", spec.early_stopping.policy},
                                            {"grace_epochs", spec.early_stopping.grace_epochs},
                                            {"reduction_factor", spec.early_stopping.reduction_factor},
                                            {"rungs", spec.early_stopping.rungs}}},
                        {"run_cap", spec.run_cap ? nlohmann::json(*spec.run_cap) : nlohmann::json()},
                        {"notes", spec.notes},
                        {"checkpoints", {{"keep_top_trials", keep_top},
                                         {"keep", sweeps::to_string(spec.checkpoints.keep)}}},
                        {"trials", nlohmann::json::array()}};
    if (spec.metric.target) j["metric"]["target"] = *spec.metric.target;
    for (const auto& t : trials) j["trials"].push_back(nlohmann::json::parse(sweeps::to_text(t)));
    if (spec.method == sweeps::Method::bayes) {
      j["max_trials"] = sweeps::trial_budget(spec);
      j["n_startup_trials"] = spec.n_startup_trials;
      j["search_space"] = nlohmann::json::array();
      for (const auto& d : sweeps::search_space(spec)) {
        nlohmann::json dim = {{"name", d.name}};
        if (d.kind == sweeps::Dimension::Kind::categorical) {
          dim["choices"] = d.choices;
        } else {
          dim.update({{"low", d.low}, {"high", d.high}, {"log", d.log}, {"step", d.step}});
        }
        j["search_space"].push_back(dim);
      }
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  if (spec.method == sweeps::Method::bayes) {
    std::cout << fmt::format("{}: method bayes, up to {} trials proposed while the sweep runs "
                             "({} at random, then TPE), ranked by {} ({})\n\n",
                             spec.name, sweeps::trial_budget(spec), spec.n_startup_trials, spec.metric.name,
                             sweeps::to_string(spec.metric.goal));
    TextTable space({"searched parameter", "searched as"});
    for (const auto& d : sweeps::search_space(spec)) {
      space.add_row({d.name, d.kind == sweeps::Dimension::Kind::categorical
                                 ? fmt::format("one of {} choices", d.choices)
                                 : fmt::format("{} in [{}, {}]{}", d.step > 0 ? "integer" : "number",
                                               d.low, d.high, d.log ? ", log scale" : "")});
    }
    std::cout << space.render();
    return kExitOk;
  }
  std::cout << fmt::format("{}: method {}, {} trial{}, ranked by {} ({})\n\n", spec.name,
                           sweeps::to_string(spec.method), trials.size(),
                           trials.size() == 1 ? "" : "s", spec.metric.name, sweeps::to_string(spec.metric.goal));
  std::vector<std::string> varying = sweeps::differing_params(trials);
  std::vector<std::string> header{"#", "id", "name"};
  header.insert(header.end(), varying.begin(), varying.end());
  TextTable table(header);
  for (const auto& t : trials) {
    std::vector<std::string> row{std::to_string(t.index + 1), t.id, t.name};
    for (const auto& name : varying) row.push_back(sweeps::to_text(sweeps::find_param(name)->get(t.params)));
    table.add_row(row);
  }
  std::cout << table.render();
  if (!trials.empty()) {
    std::set<std::string> vary(varying.begin(), varying.end());
    TextTable shared({"parameter (same in every trial)", "value"});
    for (const auto& def : sweeps::param_defs()) {
      if (vary.count(def.name)) continue;
      shared.add_row({def.name, sweeps::to_text(def.get(trials.front().params))});
    }
    std::cout << "\n" << shared.render();
  }
  std::cout << fmt::format("\ndata: {} ({} layout), {}x{} px; replicas per trial: {}\n",
                           spec.data.root.empty() ? "(no root set)" : spec.data.root,
                           spec.data.layout, spec.data.image_size, spec.data.image_size,
                           spec.resources.replicas);
  const DiskProjection disk = project_disk(trials, spec.checkpoints, 1);
  std::cout << fmt::format(
      "checkpoints: keep_top_trials {}, keep {}; projected peak disk {} with one trial at a "
      "time, {} more per extra concurrent trial (docs/sweep-spec.md, checkpoints)\n",
      keep_top.is_string() ? std::string("all") : keep_top.dump(),
      sweeps::to_string(spec.checkpoints.keep), io::format_bytes(disk.peak),
      io::format_bytes(4 * disk.full));
  return kExitOk;
}

}  // namespace

Command add_plan_command(CLI::App& app) {
  auto opt = std::make_shared<PlanOptions>();
  CLI::App* cmd = app.add_subcommand("plan", "Validate a sweep spec and print its trials");
  cmd->add_option("SPEC", opt->spec, "Sweep spec (YAML)")->required();
  cmd->add_option("--format", opt->format, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  return [opt, cmd]() { return cmd->parsed() ? plan(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
