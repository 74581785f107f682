// Tests for predict and softmax_rows: softmax against its closed form for two
// classes, predictions equal to one forward per input, batch size irrelevant,
// and failed rows marked as such.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "support/model_specs.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/predict.hpp"

namespace {

using nmode::Tensor;

TEST(SoftmaxRows, TwoClassesGiveTheLogisticFunctionWithoutOverflow) {
  Tensor z({3, 2});
  const float a[] = {0.0f, 1.0f, 2.5f, -1.0f, 1000.0f, -1000.0f};
  for (int i = 0; i < 6; ++i) z[i] = a[i];
  Tensor p;
  nmode::softmax_rows(z, p);
  for (int64_t i = 0; i < 3; ++i) {
    const double d = double(z[2 * i]) - double(z[2 * i + 1]);
    EXPECT_NEAR(p[2 * i], 1.0 / (1.0 + std::exp(-d)), 1e-7) << "row " << i;  // float rounding of a value <= 1
    EXPECT_NEAR(p[2 * i] + p[2 * i + 1], 1.0, 1e-7);
  }
  EXPECT_EQ(p[4], 1.0f);  // exp(2000) would overflow without the max subtracted
}

nmode::ModelSpec small_spec() { return nmode::test::sized_spec(6, 5, 4); }

Tensor inputs(int64_t n, int64_t d) {
  Tensor x({n, d});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 17) / 17.0f;
  return x;
}

TEST(Predict, EqualsOneForwardPerInputForAnyBatch) {
  auto model = nmode::make_model(small_spec(), 3);
  const Tensor x = inputs(7, 6);
  const nmode::Predictions all = nmode::predict(*model, x, 256);
  const nmode::Predictions ones = nmode::predict(*model, x, 1);
  const nmode::Predictions threes = nmode::predict(*model, x, 3);
  for (int64_t i = 0; i < 7; ++i) {
    Tensor xi({1, 6}), zi;
    for (int64_t j = 0; j < 6; ++j) xi[j] = x[i * 6 + j];
    model->forward(xi, zi, false);
    int best = 0;
    for (int j = 0; j < 4; ++j) {
      // Rows are independent, but a GEMM may sum in another order for another batch: a few ulp.
      EXPECT_NEAR(all.logits[i * 4 + j], zi[j], 1e-5f * (1 + std::abs(zi[j])));
      if (zi[j] > zi[best]) best = j;
    }
    EXPECT_EQ(all.classes[size_t(i)], best) << "input " << i;
    EXPECT_EQ(ones.classes[size_t(i)], best);
    EXPECT_EQ(threes.classes[size_t(i)], best);
  }
  EXPECT_EQ(all.probabilities.shape(), (std::vector<int64_t>{7, 4}));
}

TEST(Predict, RowsWithNonFiniteLogitsGetClassMinusOne) {
  nmode::ModelSpec s = small_spec();
  s.kind = "mlp-tanh";
  auto model = nmode::make_model(s, 1);
  for (const nmode::ParameterRef& p : model->parameters())
    if (p.name == "2.bias") (*p.value)[0] = std::numeric_limits<float>::quiet_NaN();
  const nmode::Predictions p = nmode::predict(*model, inputs(2, 6));
  EXPECT_EQ(p.classes, (std::vector<int32_t>{-1, -1}));
  EXPECT_TRUE(std::isnan(p.probabilities[0]));
}

TEST(Predict, RefusesInputsOfAnotherWidth) {
  auto model = nmode::make_model(small_spec(), 3);
  EXPECT_THROW(nmode::predict(*model, inputs(2, 5)), nmode::InvalidArgument);
  EXPECT_THROW(nmode::predict(*model, inputs(2, 6), 0), nmode::InvalidArgument);
}

}  // namespace
