// MNIST-style image classification datasets loaded from IDX files, plus the
// deterministic shuffles and splits that training and evaluation use.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nmode/tensor.hpp"

namespace nmode {

struct Dataset {
  Tensor images;                // (n, rows * cols); MNIST-style images: float in [0, 1] = byte / 255
  std::vector<int32_t> labels;  // (n), each in 0..classes-1
  int64_t rows = 28, cols = 28; // (n, d) feature arrays: 1 x d
  int64_t classes = 10;
  std::string name;             // "mnist", "fashion", or a dataset folder's own name
  std::string checksum;         // a dataset folder's: "crc32:<hex>" of its files of this split

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

enum class Split { Train, Test };

// The --data-dir flag when nonempty, else $NMODE_DATA when set and nonempty, else "data".
std::string resolve_data_dir(const std::string& flag_value);

// Loads data_dir/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte, each file
// raw or with a .gz suffix (the raw name wins when both exist). name is "mnist"
// or "fashion" (InvalidArgument otherwise). Throws IoError when the files are
// missing (the message names tools/fetch-data.sh), malformed, of different
// counts, or hold a label outside 0..9.
Dataset load_dataset(const std::string& name, Split split, const std::string& data_dir);

// A dataset you prepared, in `folder`: {train,test}-inputs.npy and
// {train,test}-labels.npy (.idx files instead are read too). Inputs of shape (n, d)
// or (n, h, w) as read_input_array reads them (uint8 scaled by 1/255, floats as
// they are: e.g. CNN features), labels (n) class indices. The class count is 1 +
// the largest training label, so both splits agree on it; name is the folder's
// own name. Throws IoError naming the file for a missing or malformed file, a
// count mismatch, a test label beyond the training classes, or another width.
Dataset load_dataset_folder(const std::string& folder, Split split);

// Fisher–Yates on idx with SplitMix64(seed): for i = n-1 down to 1, swap idx[i]
// with idx[next_below(i + 1)]. The same seed gives the same order everywhere.
void shuffle_indices(std::vector<int64_t>& idx, uint64_t seed);

// Splits d into (train, validation): validation takes the examples at the first
// n_val positions of a permutation shuffled with seed; both parts keep the
// original order. Throws InvalidArgument unless 0 <= n_val <= d.size().
std::pair<Dataset, Dataset> split_validation(const Dataset& d, int64_t n_val, uint64_t seed);

// The first n examples; throws InvalidArgument unless 0 <= n <= d.size().
Dataset take_first(const Dataset& d, int64_t n);

}  // namespace nmode
