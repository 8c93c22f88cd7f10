// Folder and CSV sources, every error case, CSV parsing and the stratified patient split.
#include "io/files.h"
#include "worker/dataset.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "tests/temp_dir.h"
#include "worker/image.h"

namespace mammosweep::worker {
namespace {

class DatasetTest : public ::testing::Test {
 protected:
  std::string file(const std::string& rel) const {
    const std::string p = root_.file(rel);
    io::make_dirs(io::parent_dir(p));
    const std::uint8_t px[4] = {1, 2, 3, 4};
    write_png(p, 2, 2, 1, 8, px);
    return p;
  }
  void text(const std::string& rel, const std::string& content) const {
    const std::string p = root_.file(rel);
    io::make_dirs(io::parent_dir(p));
    std::ofstream(p, std::ios::binary) << content;
  }
  // Standard Kaggle-like tree: train 3+2, valid 1+1, test 1+1.
  void kaggle_tree() const {
    file("train/0/b.png");
    file("train/0/a.JPG");
    file("train/0/c.jpeg");
    file("train/1/x.Png");
    file("train/1/y.pgm");
    file("valid/0/v0.png");
    file("valid/1/v1.png");
    file("test/0/t0.png");
    file("test/1/t1.png");
    text("train/0/notes.txt", "not an image");
    file("train/0/.hidden.png");
    io::make_dirs(root_.file("train/.ipynb_checkpoints"));
  }
  SourceOptions folders() const {
    SourceOptions o;
    o.root = root_.path();
    return o;
  }
  SourceOptions csv(const std::string& rel) const {
    SourceOptions o;
    o.layout = SourceOptions::Layout::csv;
    o.manifest = root_.file(rel);
    return o;
  }
  test::TempDir root_{"mswdataset"};
};

// Expects list_images to throw a DatasetError containing every string in `parts`.
void expect_error(const SourceOptions& o, std::initializer_list<std::string> parts) {
  try {
    list_images(o);
    FAIL() << "no error";
  } catch (const DatasetError& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(DatasetTest, FolderLayoutListsSortedImagesWithNormalisedSplits) {
  kaggle_tree();
  const auto recs = list_images(folders());
  ASSERT_EQ(recs.size(), 9u);
  std::vector<std::string> names, splits;
  std::vector<int> labels;
  for (const auto& r : recs) {
    names.push_back(io::file_name(r.path));
    splits.push_back(r.split);
    labels.push_back(r.label);
    EXPECT_TRUE(io::file_exists(r.path));
    EXPECT_TRUE(r.patient_id.empty());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a.JPG", "b.png", "c.jpeg", "x.Png", "y.pgm",
                                             "v0.png", "v1.png", "t0.png", "t1.png"}));
  EXPECT_EQ(splits, (std::vector<std::string>{"train", "train", "train", "train", "train", "val",
                                              "val", "test", "test"}));
  EXPECT_EQ(labels, (std::vector<int>{0, 0, 0, 1, 1, 0, 1, 0, 1}));
  EXPECT_EQ(describe(recs), "train: 5 (0: 3, 1: 2); val: 2 (0: 1, 1: 1); test: 2 (0: 1, 1: 1)");
}

TEST_F(DatasetTest, FolderLayoutWithNamedClassesAndCustomSplits) {
  file("tr/benign/a.png");
  file("tr/malignant/b.png");
  file("va/benign/c.png");
  file("va/malignant/d.png");
  auto o = folders();
  o.class_map = {{"benign", 0}, {"malignant", 1}};
  o.train_split = "tr";
  o.val_split = "va";
  o.test_split = "";  // no test split
  const auto recs = list_images(o);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[1].label, 1);
  EXPECT_EQ(recs[1].split, "train");
  EXPECT_EQ(recs[3].split, "val");
}

TEST_F(DatasetTest, FolderLayoutErrors) {
  expect_error(folders(), {root_.file("train"), "missing split folder"});
  auto o = folders();
  o.root = root_.file("nope");
  expect_error(o, {"nope", "not a directory"});

  file("train/0/a.png");
  file("train/1/b.png");
  file("valid/0/c.png");
  file("test/0/d.png");
  file("test/1/e.png");
  expect_error(folders(), {root_.file("valid/1"), "missing class folder"});

  io::make_dirs(root_.file("valid/1"));
  io::remove_tree(root_.file("valid/0/c.png"));
  text("valid/0/readme.txt", "x");
  expect_error(folders(), {root_.file("valid"), "empty split"});

  file("valid/1/f.png");
  file("valid/2/g.png");
  expect_error(folders(), {root_.file("valid/2"), "not a class"});
  io::remove_tree(root_.file("valid/2"));
  EXPECT_EQ(list_images(folders()).size(), 5u);

  o = folders();
  o.class_map = {{"0", 0}, {"1", 2}};
  expect_error(o, {"class_map", "expected 0 or 1"});
}

TEST_F(DatasetTest, CsvManifestWithCbisLabelsQuotingAndRelativePaths) {
  file("data/img/a.png");
  file("data/img/b, with comma.png");
  file("data/img/c.png");
  file("data/img/d.png");
  const std::string abs = file("elsewhere/e.png");
  text("data/manifest.csv",
       "\xEF\xBB\xBF" "Patient_ID,label,extra,Path,split\r\n"
       "P1,MALIGNANT,x,img/a.png,train\r\n"
       "P2,BENIGN,\"quoted \"\"x\"\"\",\"img/b, with comma.png\",TRAIN\r\n"
       "\r\n"
       "P3,BENIGN_WITHOUT_CALLBACK,,img/c.png,valid\r\n"
       "P4,MALIGNANT,,img/d.png,test\r\n"
       "P5,BENIGN,,\"" + abs + "\",validation\r\n");
  auto o = csv("data/manifest.csv");
  o.class_map = {{"MALIGNANT", 1}, {"BENIGN", 0}, {"BENIGN_WITHOUT_CALLBACK", 0}};
  const auto recs = list_images(o);
  ASSERT_EQ(recs.size(), 5u);
  std::map<std::string, ImageRecord> by_patient;
  for (const auto& r : recs) by_patient[r.patient_id] = r;
  EXPECT_EQ(by_patient["P1"].label, 1);
  EXPECT_EQ(by_patient["P1"].split, "train");
  EXPECT_EQ(by_patient["P1"].path, root_.file("data/img/a.png"));
  EXPECT_EQ(by_patient["P2"].label, 0);
  EXPECT_EQ(by_patient["P2"].split, "train");
  EXPECT_EQ(io::file_name(by_patient["P2"].path), "b, with comma.png");
  EXPECT_EQ(by_patient["P3"].split, "val");
  EXPECT_EQ(by_patient["P3"].label, 0);
  EXPECT_EQ(by_patient["P4"].split, "test");
  EXPECT_EQ(by_patient["P5"].path, abs);
  EXPECT_EQ(by_patient["P5"].split, "val");
}

TEST_F(DatasetTest, CsvErrorsNameFileAndLine) {
  file("img/a.png");
  file("img/b.png");
  auto o = csv("m.csv");
  o.class_map = {{"MALIGNANT", 1}, {"BENIGN", 0}};
  const std::string m = root_.file("m.csv");

  text("m.csv", "path,label,split\nimg/a.png,MALIGNANT,train\nimg/b.png,NORMAL,valid\n");
  expect_error(o, {m + ":3", "label 'NORMAL'", "not in class_map"});

  text("m.csv", "path,label,split\nimg/a.png,MALIGNANT,train\nimg/b.png,BENIGN,valid\nimg/zz.png,BENIGN,train\n");
  expect_error(o, {m + ":4", "zz.png", "does not exist"});

  text("m.csv", "file,label\nimg/a.png,BENIGN\n");
  expect_error(o, {m + ":1", "path and label"});

  text("m.csv", "path,label,split\nimg/a.png,BENIGN,holdout\n");
  expect_error(o, {m + ":2", "split 'holdout'"});

  text("m.csv", "path,label\nimg/a.png\n");
  expect_error(o, {m + ":2", "expected 2 fields"});

  text("m.csv", "path,label,split\nimg/a.png,BENIGN,train\nimg/b.png,MALIGNANT,train\n");
  expect_error(o, {m, "empty split 'val'"});

  text("m.csv", "path,label\n");
  expect_error(o, {m, "no rows"});

  text("m.csv", "path,label\n\"img/a.png,BENIGN\n");
  expect_error(o, {m + ":2", "unterminated"});

  expect_error(csv("absent.csv"), {"absent.csv", "cannot open"});
}

TEST(ParseCsv, QuotesNewlinesInsideQuotesAndLineNumbers) {
  const auto rows = parse_csv("a,b\n\n\"x\ny\",\"q\"\"q\"\r\nlast,\n", "t.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"x\ny", "q\"q"}));
  EXPECT_EQ(rows[2].line, 5);
  EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"last", ""}));
}

std::vector<ImageRecord> synthetic_patients(int patients, int per_patient, bool with_ids) {
  std::vector<ImageRecord> recs;
  for (int p = 0; p < patients; ++p)
    for (int k = 0; k < per_patient; ++k) {
      ImageRecord r;
      r.path = "img_" + std::to_string(p) + "_" + std::to_string(k) + ".png";
      r.label = (p % 10 < 3) ? 1 : 0;  // 30% malignant patients
      if (with_ids) r.patient_id = "P" + std::to_string(p);
      recs.push_back(r);
    }
  return recs;
}

TEST(StratifiedSplit, KeepsPatientsTogetherAndClassRatiosClose) {
  auto recs = synthetic_patients(200, 3, true);
  assign_stratified_split(recs, 0.2, 0.1, 42);
  std::map<std::string, std::set<std::string>> splits_of_patient;
  std::map<std::string, std::array<int, 2>> counts;
  for (const auto& r : recs) {
    splits_of_patient[r.patient_id].insert(r.split);
    ++counts[r.split][r.label];
  }
  for (const auto& [p, s] : splits_of_patient) EXPECT_EQ(s.size(), 1u) << p;
  // 600 images: class 0 has 420, class 1 has 180. Targets per class: test 42/18, val 84/36,
  // reached in whole patients (3 images), so at most 2 images over.
  EXPECT_GE(counts["test"][0], 42);
  EXPECT_LE(counts["test"][0], 44);
  EXPECT_GE(counts["test"][1], 18);
  EXPECT_LE(counts["test"][1], 20);
  EXPECT_GE(counts["val"][0], 84);
  EXPECT_LE(counts["val"][0], 86);
  EXPECT_GE(counts["val"][1], 36);
  EXPECT_LE(counts["val"][1], 38);
  for (const char* s : {"train", "val", "test"}) {
    const double frac = double(counts[s][1]) / (counts[s][0] + counts[s][1]);
    EXPECT_NEAR(frac, 0.3, 0.03) << s;
  }
}

TEST(StratifiedSplit, DeterministicPerSeedAndByImageWithoutPatients) {
  auto a = synthetic_patients(50, 1, false), b = a, c = a;
  assign_stratified_split(a, 0.2, 0.1, 1);
  assign_stratified_split(b, 0.2, 0.1, 1);
  assign_stratified_split(c, 0.2, 0.1, 2);
  int differ = 0, val = 0, test = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].split, b[i].split);
    differ += a[i].split != c[i].split;
    val += a[i].split == "val";
    test += a[i].split == "test";
  }
  EXPECT_GT(differ, 0);
  // class 0: 35 images -> val round(7) = 7, test round(3.5) = 4; class 1: 15 -> val 3, test 2.
  EXPECT_EQ(val, 10);
  EXPECT_EQ(test, 6);
  EXPECT_THROW(assign_stratified_split(a, 0.6, 0.5, 0), DatasetError);
}

TEST_F(DatasetTest, CsvWithoutSplitColumnIsSplitByPatient) {
  std::string manifest = "path,label,patient_id\n";
  for (int p = 0; p < 40; ++p)
    for (int k = 0; k < 2; ++k) {
      const std::string rel = "i/" + std::to_string(p) + "_" + std::to_string(k) + ".png";
      file(rel);
      manifest += rel + "," + (p % 4 == 0 ? "1" : "0") + ",P" + std::to_string(p) + "\n";
    }
  text("m.csv", manifest);
  auto o = csv("m.csv");
  o.split_seed = 7;
  const auto recs = list_images(o);
  ASSERT_EQ(recs.size(), 80u);
  std::map<std::string, std::set<std::string>> by_patient;
  for (const auto& r : recs) by_patient[r.patient_id].insert(r.split);
  for (const auto& kv : by_patient) EXPECT_EQ(kv.second.size(), 1u);
  EXPECT_EQ(list_images(o).front().path, recs.front().path);  // deterministic
}

}  // namespace
}  // namespace mammosweep::worker
