// Datasets a user prepared as .npy (or IDX) files in one folder (see
// load_dataset_folder in nmode/dataset.hpp).
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/input_array.hpp"

namespace nmode {
namespace {

namespace fs = std::filesystem;

// <folder>/<base>.npy, else <base>.idx; IoError naming both when neither exists.
std::string find_array(const fs::path& folder, const std::string& base) {
  std::error_code ec;
  for (const char* ext : {".npy", ".idx"}) {
    const fs::path p = folder / (base + ext);
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw IoError("dataset folder '" + folder.string() + "' has no " + base + ".npy (or " + base +
                ".idx); it needs train-inputs, train-labels, test-inputs and test-labels");
}

// "crc32:<8 hex digits>" of the files' bytes, one after the other: enough to tell
// two versions of a dataset apart in a checkpoint's metadata.
std::string checksum_of(const std::vector<std::string>& paths) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<char> buffer(1 << 16);
  for (const std::string& p : paths) {
    std::ifstream in(p, std::ios::binary);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(in.gcount()));
    }
  }
  char text[16];
  std::snprintf(text, sizeof text, "%08lx", static_cast<unsigned long>(crc));
  return std::string("crc32:") + text;
}

int64_t training_classes(const fs::path& folder) {
  const std::string path = find_array(folder, "train-labels");
  const std::vector<int32_t> labels = read_label_array(path);
  if (labels.empty()) throw IoError("'" + path + "': no labels");
  return int64_t(*std::max_element(labels.begin(), labels.end())) + 1;
}

}  // namespace

Dataset load_dataset_folder(const std::string& folder, Split split) {
  const fs::path dir(folder);
  const std::string prefix = split == Split::Train ? "train" : "test";
  const std::string inputs_path = find_array(dir, prefix + "-inputs");
  const std::string labels_path = find_array(dir, prefix + "-labels");
  InputArray in = read_input_array(inputs_path);
  Dataset d;
  d.labels = read_label_array(labels_path);
  if (int64_t(d.labels.size()) != in.values.dim(0))
    throw IoError("dataset folder '" + folder + "': " + inputs_path + " holds " + std::to_string(in.values.dim(0)) +
                  " inputs but " + labels_path + " holds " + std::to_string(d.labels.size()) + " labels");
  if (d.labels.empty() || in.values.dim(1) == 0)
    throw IoError("dataset folder '" + folder + "': " + inputs_path + " holds no values");
  d.classes = training_classes(dir);
  for (size_t i = 0; i < d.labels.size(); ++i)
    if (d.labels[i] >= d.classes)
      throw IoError("'" + labels_path + "': label " + std::to_string(d.labels[i]) + " at index " + std::to_string(i) +
                    " is beyond the " + std::to_string(d.classes) + " classes of the training labels");
  d.images = std::move(in.values);
  d.rows = in.rows;
  d.cols = in.cols;
  d.checksum = checksum_of({inputs_path, labels_path});
  d.name = fs::path(folder).lexically_normal().filename().string();
  if (d.name.empty()) d.name = fs::path(folder).lexically_normal().parent_path().filename().string();
  return d;
}

}  // namespace nmode
