#include "worker/dataset.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "io/files.h"
#include "sweeps/splitmix.h"

namespace mammosweep::worker {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::map<std::string, int> effective_class_map(const SourceOptions& o) {
  std::map<std::string, int> m = o.class_map;
  if (m.empty()) m = {{"0", 0}, {"1", 1}};
  for (const auto& [name, label] : m)
    if (label != 0 && label != 1)
      throw DatasetError("class_map: label for '" + name + "' is " + std::to_string(label) +
                         " (expected 0 or 1)");
  return m;
}

std::string join_keys(const std::map<std::string, int>& m) {
  std::string s;
  for (const auto& kv : m) s += (s.empty() ? "" : ", ") + kv.first;
  return s;
}

bool is_image_extension(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos || dot == 0 ? "" : lower(name.substr(dot));
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".pgm" || ext == ".dcm" ||
         ext == ".dicom";
}

bool is_hidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

int split_rank(const std::string& s) { return s == "train" ? 0 : s == "val" ? 1 : 2; }

void sort_records(std::vector<ImageRecord>& records) {
  std::sort(records.begin(), records.end(), [](const ImageRecord& a, const ImageRecord& b) {
    const int ra = split_rank(a.split), rb = split_rank(b.split);
    return ra != rb ? ra < rb : a.path < b.path;
  });
}

std::vector<ImageRecord> list_folders(const SourceOptions& o) {
  const std::string& root = o.root;
  if (root.empty() || !io::is_directory(root))
    throw DatasetError("dataset root '" + o.root + "' is not a directory (expected " +
                       "ROOT/{" + o.train_split + "," + o.val_split + "," + o.test_split +
                       "}/{class}/*)");
  const auto classes = effective_class_map(o);
  std::vector<std::pair<std::string, std::string>> splits = {{o.train_split, "train"}};
  if (!o.val_split.empty()) splits.emplace_back(o.val_split, "val");
  if (!o.test_split.empty()) splits.emplace_back(o.test_split, "test");

  std::vector<ImageRecord> records;
  for (const auto& [folder, split] : splits) {
    const std::string split_dir = io::join_path(root, folder);
    if (!io::is_directory(split_dir)) {
      std::string found;
      for (const auto& name : io::list_dir(root))
        if (!is_hidden(name) && io::is_directory(io::join_path(root, name)))
          found += (found.empty() ? "" : ", ") + name;
      throw DatasetError(split_dir + ": missing split folder '" + folder +
                         "' (folders found in " + o.root + ": " +
                         (found.empty() ? "none" : found) + ")");
    }
    for (const auto& name : io::list_dir(split_dir)) {
      const std::string path = io::join_path(split_dir, name);
      if (is_hidden(name) || !io::is_directory(path)) continue;
      if (!classes.count(name))
        throw DatasetError(path + ": folder is not a class of class_map (classes: " +
                           join_keys(classes) + ")");
    }
    std::size_t in_split = 0;
    for (const auto& [cls, label] : classes) {
      const std::string class_dir = io::join_path(split_dir, cls);
      if (!io::is_directory(class_dir))
        throw DatasetError(class_dir + ": missing class folder '" + cls +
                           "' (every split needs one folder per class: " + join_keys(classes) +
                           ")");
      std::vector<std::string> files;
      for (const auto& name : io::list_dir(class_dir)) {
        const std::string path = io::join_path(class_dir, name);
        if (is_hidden(name) || !is_image_extension(name) || !io::is_regular_file(path)) continue;
        files.push_back(path);
      }
      std::sort(files.begin(), files.end());
      for (auto& f : files) records.push_back({std::move(f), label, split, ""});
      in_split += files.size();
    }
    if (in_split == 0)
      throw DatasetError(split_dir + ": empty split '" + folder +
                         "' (no .jpg/.jpeg/.png/.pgm/.dcm/.dicom files in its class folders " +
                         join_keys(classes) + ")");
  }
  sort_records(records);
  return records;
}

std::string normalise_split(const std::string& value, const SourceOptions& o) {
  const std::string v = lower(trim(value));
  if (v == lower(o.train_split) || v == "train") return "train";
  if ((!o.val_split.empty() && v == lower(o.val_split)) || v == "val" || v == "valid" ||
      v == "validation")
    return "val";
  if ((!o.test_split.empty() && v == lower(o.test_split)) || v == "test") return "test";
  return "";
}

std::vector<ImageRecord> list_csv(const SourceOptions& o) {
  const std::string& file = o.manifest;
  if (file.empty()) throw DatasetError("csv layout needs a manifest path (SourceOptions::manifest)");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DatasetError(file + ": cannot open manifest (missing or unreadable)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto rows = parse_csv(text, file);
  if (rows.empty()) throw DatasetError(file + ": empty manifest (expected a header row with path,label)");
  const auto classes = effective_class_map(o);

  int col_path = -1, col_label = -1, col_split = -1, col_patient = -1;
  const auto& header = rows[0].fields;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string h = lower(trim(header[i]));
    if (h == "path") col_path = int(i);
    else if (h == "label") col_label = int(i);
    else if (h == "split") col_split = int(i);
    else if (h == "patient_id") col_patient = int(i);
  }
  if (col_path < 0 || col_label < 0) {
    std::string found;
    for (const auto& h : header) found += (found.empty() ? "" : ",") + h;
    throw DatasetError(file + ":" + std::to_string(rows[0].line) +
                       ": header must name columns path and label (optional: split, "
                       "patient_id); found: " + found);
  }
  // Relative paths are relative to the manifest's folder ("" for a bare name: the cwd).
  const std::string base = file.find('/') == std::string::npos ? "" : io::parent_dir(file);
  std::vector<ImageRecord> records;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const std::string where = file + ":" + std::to_string(row.line);
    if (row.fields.size() != header.size())
      throw DatasetError(where + ": expected " + std::to_string(header.size()) +
                         " fields (as in the header), found " + std::to_string(row.fields.size()));
    ImageRecord rec;
    const std::string rel = trim(row.fields[col_path]);
    if (rel.empty()) throw DatasetError(where + ": empty path");
    rec.path = rel.front() == '/' ? rel : io::join_path(base, rel);
    if (!io::is_regular_file(rec.path))
      throw DatasetError(where + ": image file '" + rec.path + "' does not exist");
    const std::string label = trim(row.fields[col_label]);
    const auto it = classes.find(label);
    if (it == classes.end())
      throw DatasetError(where + ": label '" + label + "' is not in class_map (known: " +
                         join_keys(classes) + ")");
    rec.label = it->second;
    if (col_split >= 0) {
      rec.split = normalise_split(row.fields[col_split], o);
      if (rec.split.empty())
        throw DatasetError(where + ": split '" + trim(row.fields[col_split]) +
                           "' is not one of " + o.train_split + "/" + o.val_split + "/" +
                           o.test_split + " (or train/val/valid/validation/test)");
    }
    if (col_patient >= 0) rec.patient_id = trim(row.fields[col_patient]);
    records.push_back(std::move(rec));
  }
  if (records.empty()) throw DatasetError(file + ": manifest has a header but no rows");
  if (col_split < 0) assign_stratified_split(records, o.val_fraction, o.test_fraction, o.split_seed);
  for (const char* needed : {"train", "val"}) {
    if (std::none_of(records.begin(), records.end(),
                     [&](const ImageRecord& r) { return r.split == needed; }))
      throw DatasetError(file + ": empty split '" + needed + "' (" +
                         std::to_string(records.size()) + " rows; " +
                         (col_split >= 0 ? "check the split column" :
                                           "too few rows for the val/test fractions") + ")");
  }
  sort_records(records);
  return records;
}

}  // namespace

std::vector<CsvRow> parse_csv(const std::string& text, const std::string& name) {
  std::vector<CsvRow> rows;
  std::size_t i = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
  int line = 1;
  CsvRow row;
  row.line = line;
  std::string field;
  bool field_started = false, row_has_content = false;
  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    if (row_has_content) rows.push_back(std::move(row));
    row = CsvRow{};
    row_has_content = false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && !field_started) {
      const int quote_line = line;
      ++i;
      for (;;) {
        if (i >= text.size())
          throw DatasetError(name + ":" + std::to_string(quote_line) +
                             ": unterminated quoted field");
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field += text[i++];
      }
      field_started = true;
      row_has_content = true;
      continue;
    }
    if (c == ',') {
      end_field();
      row_has_content = true;
      ++i;
    } else if (c == '\r' || c == '\n') {
      end_row();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      row.line = ++line;
    } else {
      field += c;
      field_started = true;
      if (!std::isspace(static_cast<unsigned char>(c))) row_has_content = true;
      ++i;
    }
  }
  end_row();
  return rows;
}

void assign_stratified_split(std::vector<ImageRecord>& records, double val_fraction,
                             double test_fraction, std::uint64_t seed) {
  if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1))
    throw DatasetError("split fractions must be >= 0 with val + test < 1, got val " +
                       std::to_string(val_fraction) + " and test " + std::to_string(test_fraction));
  struct Group {
    std::vector<std::size_t> members;
    int label = 0;
  };
  std::map<std::string, Group> groups;  // ordered by key: deterministic
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    const std::string key = r.patient_id.empty() ? "\x01" + r.path : "p:" + r.patient_id;
    auto& g = groups[key];
    g.members.push_back(i);
    g.label = std::max(g.label, r.label);
  }
  for (int stratum = 0; stratum <= 1; ++stratum) {
    std::vector<const Group*> order;
    std::size_t images = 0;
    for (const auto& kv : groups)
      if (kv.second.label == stratum) {
        order.push_back(&kv.second);
        images += kv.second.members.size();
      }
    sweeps::SplitMix64 rng(seed ^ (0xA5A5A5A5ULL * (stratum + 1)));
    for (std::size_t i = order.size(); i > 1; --i) {
      const std::size_t j = rng.next() % i;
      std::swap(order[i - 1], order[j]);
    }
    const auto want_test = static_cast<std::size_t>(std::llround(test_fraction * images));
    const auto want_val = static_cast<std::size_t>(std::llround(val_fraction * images));
    std::size_t n_test = 0, n_val = 0;
    for (const Group* g : order) {
      const char* split = "train";
      if (n_test < want_test) {
        split = "test";
        n_test += g->members.size();
      } else if (n_val < want_val) {
        split = "val";
        n_val += g->members.size();
      }
      for (std::size_t m : g->members) records[m].split = split;
    }
  }
}

std::vector<ImageRecord> list_images(const SourceOptions& options) {
  return options.layout == SourceOptions::Layout::csv ? list_csv(options) : list_folders(options);
}

std::string describe(const std::vector<ImageRecord>& records) {
  std::map<std::string, std::array<std::size_t, 2>> counts;
  for (const auto& r : records) ++counts[r.split][r.label == 1 ? 1 : 0];
  std::ostringstream s;
  bool first = true;
  for (const char* split : {"train", "val", "test"}) {
    const auto it = counts.find(split);
    if (it == counts.end()) continue;
    s << (first ? "" : "; ") << split << ": " << it->second[0] + it->second[1] << " (0: "
      << it->second[0] << ", 1: " << it->second[1] << ")";
    first = false;
  }
  return s.str();
}

}  // namespace mammosweep::worker
