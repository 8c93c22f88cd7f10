// `mammosweep check-data SPEC`: list and decode the spec's images, run the leakage guard and
// print a data summary, without training. Exit 2 on findings under `data.leakage: error`.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>

#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "orchestrator/text_table.h"
#include "sweeps/parse.h"
#include "worker/data.h"
#include "worker/image.h"
#include "worker/leakage.h"

namespace mammosweep::orchestrator {

namespace {

struct CheckDataOptions {
  std::string spec;
  std::vector<std::string> overrides;
  int threads = 0;
  std::string json;
};

std::string split_table(const std::vector<worker::ImageRecord>& records) {
  TextTable table({"split", "class 0", "class 1", "total"});
  std::size_t all[2] = {0, 0};
  for (const char* split : {"train", "val", "test"}) {
    std::size_t n[2] = {0, 0};
    for (const auto& r : records)
      if (r.split == split) ++n[r.label == 1];
    if (n[0] + n[1] == 0) continue;
    all[0] += n[0];
    all[1] += n[1];
    table.add_row({split, std::to_string(n[0]), std::to_string(n[1]), std::to_string(n[0] + n[1])});
  }
  table.add_row({"all", std::to_string(all[0]), std::to_string(all[1]), std::to_string(all[0] + all[1])});
  return table.render();
}

// "640x640: 3000, 512x640: 12 (+3 other sizes)": the most common sizes first.
std::string size_summary(const std::vector<worker::ImageShape>& shapes) {
  std::map<std::pair<int, int>, std::size_t> by_size;
  for (const auto& s : shapes) ++by_size[{s.width, s.height}];
  std::vector<std::pair<std::size_t, std::pair<int, int>>> sorted;
  for (const auto& [size, n] : by_size) sorted.push_back({n, size});
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::string out;
  for (std::size_t i = 0; i < sorted.size() && i < 5; ++i)
    out += fmt::format("{}{}x{}: {}", i ? ", " : "", sorted[i].second.first, sorted[i].second.second,
                       sorted[i].first);
  if (sorted.size() > 5) out += fmt::format(" (+{} other sizes)", sorted.size() - 5);
  return out;
}

// "8-bit gray: 290, 16-bit gray: 10".
std::string format_summary(const std::vector<worker::ImageShape>& shapes) {
  std::map<std::pair<int, int>, std::size_t> by_format;
  for (const auto& s : shapes) ++by_format[{s.bit_depth, s.channels}];
  std::string out;
  for (const auto& [format, n] : by_format)
    out += fmt::format("{}{}-bit {}: {}", out.empty() ? "" : ", ", format.first,
                       format.second == 1 ? "gray" : "RGB", n);
  return out;
}

int check_data(const CheckDataOptions& opt) {
  const sweeps::SweepSpec spec = sweeps::load_spec(opt.spec, opt.overrides);
  const auto records = worker::list_dataset(spec.data);
  worker::LeakageOptions lo;
  lo.threads = opt.threads;
  worker::LeakageReport report;
  try {
    report = worker::check_leakage(records, lo);  // decodes every image once
  } catch (const worker::ImageError& e) {
    throw InputError(e.what());  // a bad image is bad input: exit 2, naming the file
  }
  if (!opt.json.empty()) {
    std::ofstream out(opt.json);
    out << report.to_json() << "\n";
    if (!out) throw std::runtime_error(opt.json + ": cannot write");
  }
  std::cout << fmt::format("data: {} ({} layout{}), {} images, leakage policy {}\n\n",
                           spec.data.root, spec.data.layout,
                           spec.data.layout == "csv" ? ", manifest " + spec.data.manifest : "",
                           records.size(), spec.data.leakage);
  std::cout << split_table(records) << "\n";
  std::cout << "sizes: " << size_summary(report.shapes) << "\n";
  std::cout << "pixel formats: " << format_summary(report.shapes) << "\n\n";
  std::cout << report.summary(50) << "\n";
  if (report.findings.empty()) {
    std::cout << "ok: no image or patient in two splits\n";
    return kExitOk;
  }
  if (worker::parse_leakage_policy(spec.data.leakage) == worker::LeakagePolicy::error) {
    std::cerr << fmt::format(
        "mammosweep: error: {} cross-split finding(s) under data.leakage: error; remove the "
        "duplicates or re-split by patient (or set data.leakage to warn to train anyway)\n",
        report.findings.size());
    return kExitUsage;
  }
  std::cout << fmt::format("warning: {} cross-split finding(s); data.leakage is {}, so a run "
                           "would train anyway\n",
                           report.findings.size(), spec.data.leakage);
  return kExitOk;
}

}  // namespace

Command add_check_data_command(CLI::App& app) {
  auto opt = std::make_shared<CheckDataOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check-data",
      "List and decode a spec's images, run the leakage guard and print a data summary "
      "(counts per split and class, sizes, bit depths, findings) without training. Exit 2 on "
      "findings under data.leakage: error");
  cmd->add_option("SPEC", opt->spec, "Sweep spec (YAML); only its data section is used")->required();
  cmd->add_option("--set", opt->overrides, "Override a spec value, e.g. --set data.root=/data/x");
  cmd->add_option("--threads", opt->threads, "Decode threads (0 = min(cores, 8))")
      ->capture_default_str()->check(CLI::Range(0, 256));
  cmd->add_option("--json", opt->json, "Also write the full leakage report as JSON to this file");
  return [opt, cmd]() { return cmd->parsed() ? check_data(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
