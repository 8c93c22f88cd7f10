// Image sources: which files make up a dataset, their labels, splits and patients.
//
// Two layouts (see docs/data.md for worked examples):
//  * folders: ROOT/<train_split>/<class>/*, ROOT/<val_split>/<class>/*,
//    ROOT/<test_split>/<class>/* (the hayder17 Kaggle / Roboflow layout is
//    ROOT/{train,valid,test}/{0,1}/*.jpg). Image extensions .jpg .jpeg .png .pgm .dcm
//    .dicom, any case.
//    Class folders are the keys of class_map; every split must hold every class folder and at
//    least one image. Hidden entries (".*") are skipped; any other folder is an error.
//  * csv: a manifest with a header row naming the columns `path` and `label`, optionally
//    `split` and `patient_id` (any order, case-insensitive, extra columns ignored, quoted
//    fields with "" escapes allowed). Paths are relative to the manifest's folder (absolute
//    paths are kept). Labels go through class_map. Without a split column the rows are split
//    by a seeded, stratified split that keeps each patient in one split (each image is its
//    own "patient" when no patient_id column exists).
//
// Every record's split is normalised to "train", "val" or "test". The output is sorted by
// (split order train/val/test, then path) so it is deterministic.
// Errors are DatasetError naming the file (and CSV line) and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace mammosweep::worker {

class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ImageRecord {
  std::string path;        // file path (ROOT or manifest folder joined in)
  int label = 0;           // 0 = benign/normal, 1 = malignant (positive class)
  std::string split;       // "train" | "val" | "test"
  std::string patient_id;  // empty when unknown
};

struct SourceOptions {
  std::string root;  // folders layout: the dataset root
  enum class Layout { folders, csv } layout = Layout::folders;
  std::string manifest;  // csv layout: the manifest path
  // Folder or label name -> 0/1. Empty means {"0": 0, "1": 1}. Values must be 0 or 1.
  std::map<std::string, int> class_map;
  // Split folder names (folders layout) or split values (csv `split` column). A csv split
  // value is also accepted as "train", "val"/"valid"/"validation" or "test" (any case).
  // An empty test_split means the folders layout has no test split.
  std::string train_split = "train", val_split = "valid", test_split = "test";
  // csv layout without a split column: fractions of each class (by image count, whole
  // patients at a time) that go to val and test; the rest is train.
  double val_fraction = 0.2, test_fraction = 0.1;
  std::uint64_t split_seed = 0;
};

/// Lists the dataset's images. Throws DatasetError (see the top of this file).
std::vector<ImageRecord> list_images(const SourceOptions& options);

/// The stratified patient-level split used for manifests without a split column, exposed
/// for tests and for other sources: assigns records[i].split in place ("train"/"val"/"test").
/// A patient's stratum is the largest label among its images; within each stratum the
/// patients (sorted by id, then shuffled with split_seed) fill test, then val, until each
/// holds at least round(fraction * stratum images) images; the rest is train.
void assign_stratified_split(std::vector<ImageRecord>& records, double val_fraction,
                             double test_fraction, std::uint64_t seed);

/// Parses a CSV text (RFC 4180 quoting, CR LF or LF line ends, an optional UTF-8 BOM) into
/// rows of fields; row i comes with the 1-based line number it started on. Blank lines are
/// skipped. `name` is used in errors (unterminated quote).
struct CsvRow {
  int line = 0;
  std::vector<std::string> fields;
};
std::vector<CsvRow> parse_csv(const std::string& text, const std::string& name);

/// Counts per split and label, e.g. "train: 10 (0: 6, 1: 4); val: ...".
std::string describe(const std::vector<ImageRecord>& records);

}  // namespace mammosweep::worker
