// Loads MNIST and Fashion-MNIST from IDX files into float images and int labels,
// and implements the seeded shuffle and the train/validation split.
#include "nmode/dataset.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "nmode/error.hpp"
#include "nmode/idx.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kNumClasses = 10;

struct KnownDataset {
  const char* name;
  const char* display_name;
};
constexpr KnownDataset kKnownDatasets[] = {{"mnist", "MNIST"}, {"fashion", "Fashion-MNIST"}};

const KnownDataset& find_known(const std::string& name) {
  for (const auto& known : kKnownDatasets) {
    if (name == known.name) return known;
  }
  throw InvalidArgument("unknown dataset '" + name + "'; valid names: mnist, fashion");
}

std::string fetch_hint(const std::string& name, const std::string& data_dir) {
  const std::string dir_flag = data_dir == "data" ? "" : "--data-dir " + data_dir + " ";
  return "run tools/fetch-data.sh " + dir_flag + name;
}

// The raw file when present, else its .gz; an empty string when neither exists.
std::string find_idx_file(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  if (fs::exists(dir / base, ec)) return (dir / base).string();
  if (fs::exists(dir / (base + ".gz"), ec)) return (dir / (base + ".gz")).string();
  return "";
}

// The examples at idx, in that order.
Dataset gather(const Dataset& d, const std::vector<int64_t>& idx) {
  Dataset out;
  out.rows = d.rows;
  out.cols = d.cols;
  out.classes = d.classes;
  out.checksum = d.checksum;
  out.name = d.name;
  // The images' own width, not rows * cols: a hand-made Dataset may leave the shape at 28 x 28.
  const int64_t pixels = d.images.rank() == 2 ? d.images.dim(1) : 0;
  out.images = Tensor({static_cast<int64_t>(idx.size()), pixels});
  out.labels.resize(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) {
    const float* src = d.images.data() + idx[k] * pixels;
    std::copy(src, src + pixels, out.images.data() + static_cast<int64_t>(k) * pixels);
    out.labels[k] = d.labels[static_cast<size_t>(idx[k])];
  }
  return out;
}

}  // namespace

std::string resolve_data_dir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("NMODE_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return "data";
}

Dataset load_dataset(const std::string& name, Split split, const std::string& data_dir) {
  const KnownDataset& known = find_known(name);
  const fs::path dir = fs::path(data_dir) / name;
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const std::string images_base = prefix + "-images-idx3-ubyte";
  const std::string labels_base = prefix + "-labels-idx1-ubyte";

  const auto require_file = [&](const std::string& base) {
    std::string path = find_idx_file(dir, base);
    if (path.empty()) {
      throw IoError(std::string(known.display_name) + " not found in " + dir.string() + " (expected " + base +
                    "[.gz]); " + fetch_hint(name, data_dir));
    }
    return path;
  };
  const std::string images_path = require_file(images_base);
  const std::string labels_path = require_file(labels_base);

  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) {
    throw IoError("IDX file '" + images_path + "': images must have rank 3 (n, rows, cols), got rank " +
                  std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    throw IoError("IDX file '" + labels_path + "': labels must have rank 1 (n), got rank " +
                  std::to_string(labels.dims.size()));
  }
  const int64_t n = images.dims[0];
  if (labels.dims[0] != n) {
    throw IoError(std::string(known.display_name) + " " + prefix + " files disagree: '" + images_path + "' has " +
                  std::to_string(n) + " images but '" + labels_path + "' has " + std::to_string(labels.dims[0]) +
                  " labels");
  }
  if (n == 0 || images.dims[1] == 0 || images.dims[2] == 0) {
    throw IoError("IDX file '" + images_path + "': holds no pixels (dims " + std::to_string(n) + "x" +
                  std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2]) + ")");
  }

  Dataset d;
  d.name = name;
  d.rows = images.dims[1];
  d.cols = images.dims[2];
  d.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t label = labels.data[static_cast<size_t>(i)];
    if (label >= kNumClasses) {
      throw IoError("IDX file '" + labels_path + "': label " + std::to_string(label) + " at index " +
                    std::to_string(i) + " is outside 0.." + std::to_string(kNumClasses - 1));
    }
    d.labels[static_cast<size_t>(i)] = label;
  }
  d.images = Tensor({n, d.rows * d.cols});
  float* out = d.images.data();
  const int64_t total = d.images.size();
  for (int64_t i = 0; i < total; ++i) out[i] = static_cast<float>(images.data[static_cast<size_t>(i)]) / 255.0f;
  return d;
}

void shuffle_indices(std::vector<int64_t>& idx, uint64_t seed) {
  SplitMix64 rng(seed);
  for (size_t i = idx.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.next_below(i));
    std::swap(idx[i - 1], idx[j]);
  }
}

std::pair<Dataset, Dataset> split_validation(const Dataset& d, int64_t n_val, uint64_t seed) {
  if (n_val < 0 || n_val > d.size()) {
    throw InvalidArgument("split_validation: n_val must be in 0.." + std::to_string(d.size()) +
                          " (the dataset size), got " + std::to_string(n_val));
  }
  std::vector<int64_t> perm(static_cast<size_t>(d.size()));
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  shuffle_indices(perm, seed);
  std::vector<int64_t> val(perm.begin(), perm.begin() + n_val);
  std::vector<int64_t> train(perm.begin() + n_val, perm.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return {gather(d, train), gather(d, val)};
}

Dataset take_first(const Dataset& d, int64_t n) {
  if (n < 0 || n > d.size()) {
    throw InvalidArgument("take_first: n must be in 0.." + std::to_string(d.size()) + " (the dataset size), got " +
                          std::to_string(n));
  }
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  return gather(d, idx);
}

}  // namespace nmode
