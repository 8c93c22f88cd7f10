#pragma once
// A plain-text table with aligned columns that is also valid GitHub Markdown.
#include <string>
#include <vector>

namespace mammosweep::orchestrator {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }
  /// "| a | b |" lines with a "|---|" separator, columns padded to equal width.
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace mammosweep::orchestrator
