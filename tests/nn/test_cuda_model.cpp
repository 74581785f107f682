// CudaModel tests: GPU forward/backward of whole models (logits, every parameter
// gradient, dx) against the CPU model, within bounds derived from float GEMM
// rounding and the solver's own tolerance. GPU tests report SKIPPED with the
// reason when no GPU is usable; the construction tests run everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/model_specs.hpp"
#include "support/gpu_test_util.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/error.hpp"
#include "nmode/loss.hpp"
#include "nmode/model.hpp"
#include "nmode/ode.hpp"
#include "nmode/optim.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

constexpr double kUnit = 0x1.0p-24;  // float's unit roundoff u

// Higham's gamma_k = k u / (1 - k u): a float sum of k products, in any order and
// with or without FMA, is within gamma_k * sum |a_i b_i| of the exact sum. Two
// such sums (CPU and GPU) of the same terms are within twice that of each other.
double gamma_k(int64_t k) {
  const double ku = static_cast<double>(k) * kUnit;
  return ku / (1.0 - ku);
}

// A row-major double matrix for the bounds (kept apart from the code under test).
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Mat(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), 0.0) {}
  double& operator()(int64_t r, int64_t c) { return v[static_cast<size_t>(r * cols + c)]; }
  double operator()(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};

// |t| as a (rows, cols) matrix; a 1-D tensor becomes one row.
Mat abs_of(const Tensor& t) {
  const int64_t rows = t.rank() == 2 ? t.dim(0) : 1, cols = t.rank() == 2 ? t.dim(1) : t.dim(0);
  Mat m(rows, cols);
  for (int64_t i = 0; i < t.size(); ++i) m.v[static_cast<size_t>(i)] = std::abs(static_cast<double>(t[i]));
  return m;
}

Mat signed_of(const Tensor& t) {
  Mat m(t.dim(0), t.dim(1));
  for (int64_t i = 0; i < t.size(); ++i) m.v[static_cast<size_t>(i)] = static_cast<double>(t[i]);
  return m;
}

Mat abs_diff(const Tensor& a, const Tensor& b) {
  Mat m(a.dim(0), a.dim(1));
  for (int64_t i = 0; i < a.size(); ++i)
    m.v[static_cast<size_t>(i)] = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
  return m;
}

Mat plus(const Mat& a, const Mat& b) {
  Mat m = a;
  for (size_t i = 0; i < m.v.size(); ++i) m.v[i] += b.v[i];
  return m;
}

// Naive products in double: a (n, k) * b (m, k)^T -> (n, m).
Mat mul_bt(const Mat& a, const Mat& b) {
  Mat c(a.rows, b.rows);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t j = 0; j < b.rows; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < a.cols; ++k) acc += a(r, k) * b(j, k);
      c(r, j) = acc;
    }
  return c;
}

// a (n, k) * b (k, m) -> (n, m).
Mat mul(const Mat& a, const Mat& b) {
  Mat c(a.rows, b.cols);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t k = 0; k < a.cols; ++k) {
      const double s = a(r, k);
      for (int64_t j = 0; j < b.cols; ++j) c(r, j) += s * b(k, j);
    }
  return c;
}

// a (n, m)^T * b (n, k) -> (m, k).
Mat mul_at(const Mat& a, const Mat& b) {
  Mat c(a.cols, b.cols);
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < a.cols; ++j)
    for (int64_t r = 0; r < a.rows; ++r) {
      const double s = a(r, j);
      for (int64_t i = 0; i < b.cols; ++i) c(j, i) += s * b(r, i);
    }
  return c;
}

// Column sums of a (n, m) -> (1, m).
Mat column_sums(const Mat& a) {
  Mat c(1, a.cols);
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t j = 0; j < a.cols; ++j) c(0, j) += a(r, j);
  return c;
}

// The single row of `row` repeated n times: (n, cols).
Mat rows_of(const Mat& row, int64_t n) {
  Mat m(n, row.cols);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < row.cols; ++j) m(r, j) = row(0, j);
  return m;
}

Mat scaled(const Mat& a, double s) {
  Mat m = a;
  for (double& x : m.v) x *= s;
  return m;
}

// Every element of `got` within `bound` of `want`. The 1e-30 floor admits a
// subnormal flushed to zero by one side.
void expect_within(const std::string& what, const Tensor& got, const Tensor& want, const Mat& bound) {
  ASSERT_EQ(got.size(), want.size()) << what;
  ASSERT_EQ(static_cast<size_t>(got.size()), bound.v.size()) << what;
  int64_t bad = 0, first = -1;
  double worst = 0.0;  // largest |got - want| / bound, for the report
  for (int64_t i = 0; i < got.size(); ++i) {
    const double diff = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    const double b = bound.v[static_cast<size_t>(i)] + 1e-30;
    worst = std::max(worst, diff / b);
    if (!(diff <= b)) {
      if (bad++ == 0) first = i;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " elements off; first at " << first
                    << ": got " << (first >= 0 ? got[first] : 0.0f) << ", want " << (first >= 0 ? want[first] : 0.0f)
                    << ", bound " << (first >= 0 ? bound.v[static_cast<size_t>(first)] : 0.0)
                    << "; worst diff/bound " << worst;
}

// What the activation layer (layer 1) sees and gives for one batch, from
// single-layer models on one backend: GPU results are deterministic (cuBLAS
// gives bitwise-equal results for the same call on the same GPU and stream), so
// these are the values inside the whole-model run on that backend too.
struct Hidden {
  Tensor z;  // (n, H): output of the first Linear
  Tensor h;  // (n, H): activation output
  Tensor d;  // (n, H): activation derivative at z (backward of a ones gradient)
  Tensor q;  // (n, H): dy/dlambda, NmOde with a learnable lambda only
};

std::unique_ptr<Sequential> copy_layer(Sequential& model, size_t i) {
  auto s = std::make_unique<Sequential>();
  Layer& layer = model.layer(i);
  if (auto* linear = dynamic_cast<Linear*>(&layer)) {
    Linear& l = s->emplace<Linear>(linear->in_features(), linear->out_features());
    l.weight() = linear->weight();
    l.bias() = linear->bias();
  } else if (auto* nm = dynamic_cast<NmOde*>(&layer)) {
    s->emplace<NmOde>(nm->in_features(), nm->solver_options(), nm->learn_lambda());
  } else if (dynamic_cast<ReLU*>(&layer)) {
    s->emplace<ReLU>(layer.in_features());
  } else if (dynamic_cast<Tanh*>(&layer)) {
    s->emplace<Tanh>(layer.in_features());
  }
  return s;
}

Hidden compute_hidden(Sequential& model, const Tensor& x, bool on_gpu) {
  auto linear = copy_layer(model, 0);
  auto act = copy_layer(model, 1);
  Hidden r;
  if (on_gpu) {
    CudaModel gl(*linear), ga(*act);
    gl.forward(x, r.z, false);
    ga.forward(r.z, r.h, true);
    ga.backward(Tensor(r.h.shape(), 1.0f), &r.d);
  } else {
    linear->forward(x, r.z, false);
    act->forward(r.z, r.h, true);
    act->backward(Tensor(r.h.shape(), 1.0f), &r.d);
  }
  auto* nm = dynamic_cast<NmOde*>(&model.layer(1));
  if (nm && nm->learn_lambda()) {
    // The same solver call (value + dy/dgamma + dy/dlambda) the layer makes.
    r.q = Tensor(r.z.shape());
    Tensor y(r.z.shape()), s(r.z.shape());
    SolveOutputs<float> out;
    out.y = y.data();
    out.dy_dgamma = s.data();
    out.dy_dlambda = r.q.data();
    solve<float>(nm->solver_options(), r.z.size(), r.z.data(), nullptr, out, on_gpu ? Device::Cuda : Device::Cpu);
  }
  return r;
}

// Checks all elements within slope * |dz| + all_tol, and at least `min_fraction`
// of them within slope * |dz| + typical_tol. The float solver's output is not a
// smooth function of gamma: rounding in the error estimate flips accept/reject
// decisions, so even a 1-ulp change of gamma moves an element by up to the
// solver's error bound (all_tol). The GPU's z differs from the CPU's by GEMM
// rounding, and its __sincosf rounding acts like one more such perturbation.
void expect_solver_close(const std::string& what, const Tensor& a, const Tensor& b, const Mat& dz, double slope,
                         double typical_tol, double min_fraction, double all_tol) {
  int64_t close = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    const double moved = slope * dz.v[static_cast<size_t>(i)];
    ASSERT_LE(diff, moved + all_tol) << what << " element " << i << ": " << a[i] << " vs " << b[i];
    close += diff <= moved + typical_tol;
  }
  // Three elements of slack on top: in a small batch one flipped step decision
  // would otherwise decide the test.
  EXPECT_GE(static_cast<double>(close), min_fraction * static_cast<double>(a.size()) - 3.0) << what;
}

// The activation layer's GPU outputs against the CPU's, given their inputs z.
void expect_activation_close(Layer& act, const Hidden& gpu, const Hidden& cpu, const Mat& dz, const Mat& dz_bound) {
  const int64_t count = gpu.h.size();
  if (auto* nm = dynamic_cast<NmOde*>(&act)) {
    const SolverOptions o = nm->solver_options();
    ASSERT_GT(o.lambda, 1.0) << "the slopes below are derived for lambda > 1";
    // Gronwall on the sensitivity ODEs with |sin|, |cos| <= 1 and 0 <= y <= 1/lambda:
    // s' = (-lambda + sin 2u) s + sin 2u gives |dy/dgamma| <= 1/(lambda - 1);
    // q' = (-lambda + sin 2u) q - y gives |dy/dlambda| <= 1/(lambda (lambda - 1));
    // differentiating once more in gamma bounds how fast s and q move with gamma.
    const double ls = 1.0 / (o.lambda - 1.0), lq = ls / o.lambda;
    const double lss = 2.0 * (1.0 + ls) * (1.0 + ls) * ls;
    const double lqs = (ls + 2.0 * (1.0 + ls) * lq) * ls;
    // Each backend is within 10 (atol + rtol) of the exact y and sensitivities
    // (test_ode's measured worst case is 5.3x), so twice that of each other.
    const double all_tol = 2.0 * 10.0 * (o.atol + o.rtol);
    // Typical: measured with the CPU solver (lambda 3, tol 1e-3) on these tests' own
    // inputs, moving every gamma by 1 to 4 ulp moves y by more than 1e-4 in up to
    // 0.5% of the elements and dy/dgamma by more than 1e-3 in up to 1.9%; the
    // fractions below leave room for the GPU's own sincos rounding on top, and a
    // wrong kernel misses them everywhere.
    expect_solver_close("nmODE y", gpu.h, cpu.h, dz, ls, 1e-4, 0.97, all_tol);
    expect_solver_close("nmODE dy/dgamma", gpu.d, cpu.d, dz, lss, 1e-3, 0.94, 2 * all_tol);
    if (!gpu.q.empty()) expect_solver_close("nmODE dy/dlambda", gpu.q, cpu.q, dz, lqs, 1e-3, 0.97, 2 * all_tol);
  } else if (dynamic_cast<ReLU*>(&act)) {
    for (int64_t i = 0; i < count; ++i) {
      const size_t k = static_cast<size_t>(i);
      // max(z, 0) is exact and 1-Lipschitz; its mask agrees wherever z's sign is certain.
      ASSERT_LE(std::abs(double(gpu.h[i]) - double(cpu.h[i])), dz.v[k]) << "ReLU element " << i;
      if (std::abs(double(cpu.z[i])) > dz_bound.v[k]) {
        ASSERT_EQ(gpu.d[i], cpu.d[i]) << "ReLU mask element " << i;
      }
    }
  } else if (dynamic_cast<Tanh*>(&act)) {
    for (int64_t i = 0; i < count; ++i) {
      const size_t k = static_cast<size_t>(i);
      // tanh is 1-Lipschitz; CUDA's tanhf is within 2 ulp and glibc's (or libmvec's)
      // within 4 ulp, and an ulp is at most 2u relative.
      const double dh = std::abs(double(gpu.h[i]) - double(cpu.h[i]));
      ASSERT_LE(dh, dz.v[k] + 12 * kUnit * (std::abs(double(cpu.h[i])) + dz.v[k])) << "Tanh element " << i;
      // d = 1 - t^2: moves by (|t_gpu| + |t_cpu|) |dt|, plus at most 2u rounding on each side.
      const double moved = (std::abs(double(gpu.h[i])) + std::abs(double(cpu.h[i]))) * dh;
      ASSERT_LE(std::abs(double(gpu.d[i]) - double(cpu.d[i])), moved + 4 * kUnit) << "Tanh derivative element " << i;
    }
  }
}

struct Grads {
  Tensor w1, b1, w2, b2, lambda;
};

Grads grads_of(Sequential& model) {
  Grads g;
  auto& l0 = dynamic_cast<Linear&>(model.layer(0));
  auto& l2 = dynamic_cast<Linear&>(model.layer(2));
  g.w1 = l0.weight_grad();
  g.b1 = l0.bias_grad();
  g.w2 = l2.weight_grad();
  g.b2 = l2.bias_grad();
  if (auto* nm = dynamic_cast<NmOde*>(&model.layer(1)); nm && nm->learn_lambda())
    g.lambda = *nm->parameters().at(0).grad;
  return g;
}

// One training step's forward and backward of a [Linear, activation, Linear]
// model on the CPU (`cpu`) and on the GPU (`gpu`, a CudaModel of `gpu_host`, a
// model with the same parameters), compared element by element. Each bound is
// the forward-error analysis of the CPU and GPU computations, with the
// activation layer's observed GPU-vs-CPU differences (checked first) as inputs.
void expect_model_matches(Sequential& cpu, Sequential& gpu_host, CudaModel& gpu, int64_t n, uint64_t seed) {
  SCOPED_TRACE("batch " + std::to_string(n));
  auto& l0 = dynamic_cast<Linear&>(cpu.layer(0));
  auto& l2 = dynamic_cast<Linear&>(cpu.layer(2));
  const int64_t in = l0.in_features(), hidden = l0.out_features(), classes = l2.out_features();

  SplitMix64 rng(seed);
  Tensor x({n, in});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.next_uniform01());  // pixel-like
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (auto& y : labels) y = static_cast<int32_t>(rng.next_below(static_cast<uint64_t>(classes)));

  Tensor logits_cpu, logits_gpu, dlogits, dx_cpu, dx_gpu;
  cpu.zero_grad();
  cpu.forward(x, logits_cpu, true);
  softmax_cross_entropy(logits_cpu, labels.data(), &dlogits);
  cpu.backward(dlogits, &dx_cpu);
  gpu_host.zero_grad();
  gpu.forward(x, logits_gpu, true);
  gpu.backward(dlogits, &dx_gpu);
  const Grads gc = grads_of(cpu), gg = grads_of(gpu_host);

  const Hidden hc = compute_hidden(cpu, x, false), hg = compute_hidden(cpu, x, true);
  const Mat ax = abs_of(x), aw1 = abs_of(l0.weight()), ab1 = abs_of(l0.bias());
  const Mat aw2 = abs_of(l2.weight()), ab2 = abs_of(l2.bias()), adl = abs_of(dlogits);

  // z = x W1^T + b1: a sum of in + 1 terms on each side.
  const Mat dz_bound = scaled(plus(mul_bt(ax, aw1), rows_of(ab1, n)), 2 * gamma_k(in + 1));
  expect_within("first Linear output z", hg.z, hc.z, dz_bound);
  const Mat dz = abs_diff(hg.z, hc.z);
  expect_activation_close(cpu.layer(1), hg, hc, dz, dz_bound);
  if (::testing::Test::HasFatalFailure()) return;

  // Observed activation differences and magnitudes that bound both sides.
  const Mat dh = abs_diff(hg.h, hc.h), mag_h = plus(abs_of(hc.h), dh);
  const Mat dd = abs_diff(hg.d, hc.d), mag_d = plus(abs_of(hc.d), dd);

  // logits = h W2^T + b2: |dh| |W2|^T from the inputs, plus rounding of H + 1 terms.
  const Mat logits_bound =
      plus(mul_bt(dh, aw2), scaled(plus(mul_bt(mag_h, aw2), rows_of(ab2, n)), 2 * gamma_k(hidden + 1)));
  expect_within("logits", logits_gpu, logits_cpu, logits_bound);

  // dW2 = dlogits^T h (n terms); db2 = column sums of dlogits (both summed in double, then rounded).
  expect_within("dW2", gg.w2, gc.w2, plus(mul_at(adl, dh), scaled(mul_at(adl, mag_h), 2 * gamma_k(n))));
  expect_within("db2", gg.b2, gc.b2, scaled(column_sums(adl), 2 * gamma_k(n)));

  // dh = dlogits W2 (classes terms, same inputs on both sides), then dz = dh * d.
  const Mat dh_exact = mul(signed_of(dlogits), signed_of(l2.weight()));
  const Mat dh_round = scaled(mul(adl, aw2), gamma_k(classes));  // each side's distance from dh_exact
  Mat ddz(n, hidden), mag_dz(n, hidden), mag_dh(n, hidden);
  for (size_t i = 0; i < ddz.v.size(); ++i) {
    mag_dh.v[i] = std::abs(dh_exact.v[i]) + dh_round.v[i];
    mag_dz.v[i] = mag_dh.v[i] * mag_d.v[i] * (1 + kUnit);
    // |dh_g d_g - dh_c d_c| <= |dh_g - dh_c| |d_g| + |dh_c| |d_g - d_c|, plus each product's rounding.
    ddz.v[i] = 2 * dh_round.v[i] * mag_d.v[i] + mag_dh.v[i] * dd.v[i] + 2 * kUnit * mag_dh.v[i] * mag_d.v[i];
  }

  // dW1 = dz^T x and db1 = column sums of dz (n terms); dx = dz W1 (H terms).
  expect_within("dW1", gg.w1, gc.w1, plus(mul_at(ddz, ax), scaled(mul_at(mag_dz, ax), 2 * gamma_k(n))));
  expect_within("db1", gg.b1, gc.b1, plus(column_sums(ddz), scaled(column_sums(mag_dz), 2 * gamma_k(n))));
  expect_within("dx", dx_gpu, dx_cpu, plus(mul(ddz, aw1), scaled(mul(mag_dz, aw1), 2 * gamma_k(hidden))));

  if (!hc.q.empty()) {
    // dlambda = sum dh * q: exact float products summed in double, rounded once to float per side.
    const Mat dq = abs_diff(hg.q, hc.q), mag_q = plus(abs_of(hc.q), dq);
    double bound = 0.0, mag = 0.0;
    for (size_t i = 0; i < dq.v.size(); ++i) {
      bound += 2 * dh_round.v[i] * mag_q.v[i] + mag_dh.v[i] * dq.v[i];
      mag += mag_dh.v[i] * mag_q.v[i];
    }
    Mat lambda_bound(1, 1);
    lambda_bound(0, 0) = bound + 2 * kUnit * mag;
    expect_within("dlambda", gg.lambda, gc.lambda, lambda_bound);
  }
}

// ---- tests that run everywhere ----

TEST(CudaModel, ConstructionSaysWhyWhenNoGpu) {
  ModelSpec spec;
  spec.input = 4;
  spec.hidden = 3;
  spec.classes = 2;
  auto model = make_model(spec, 1);
  test::expect_construction_says_why_without_gpu<CudaModel>(*model, "CudaModel");
}

// A layer with no CUDA implementation.
class Identity final : public Layer {
 public:
  std::string describe() const override { return "Identity(3)"; }
  int64_t in_features() const override { return 3; }
  int64_t out_features() const override { return 3; }

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool) override { y = x; }
  void backward_impl(const Tensor& dy, Tensor& dx, bool, bool) override { dx = dy; }
};

TEST(CudaModel, RejectsEmptyModelsAndUnsupportedLayers) {
  Sequential empty;
  EXPECT_THROW(CudaModel{empty}, Error);
  Sequential model;
  model.emplace<Linear>(4, 3);
  model.emplace<Identity>();
  try {
    CudaModel gpu(model);
    FAIL() << "a model with an Identity layer was accepted";
  } catch (const InvalidArgument& e) {
    // The CUDA build checks the layers before looking for a device.
    EXPECT_NE(std::string(e.what()).find("Identity(3)"), std::string::npos) << e.what();
  } catch (const Error& e) {
    EXPECT_FALSE(cuda_compiled()) << e.what();
  }
}

// ---- GPU tests ----

// A small nmODE model with a learnable lambda and awkward widths.
ModelSpec small_nmode_spec(int64_t classes) {
  ModelSpec spec = test::sized_spec(20, 33, classes);
  spec.learn_lambda = true;
  return spec;
}

TEST(CudaModel, SmallNmodeModelMatchesCpu) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec = small_nmode_spec(7);
  auto cpu = make_model(spec, 5);
  auto gpu_host = make_model(spec, 5);
  CudaModel gpu(*gpu_host);
  // Growing, then shrinking batches exercise the buffer reuse.
  for (int64_t n : {1, 257, 31}) {
    expect_model_matches(*cpu, *gpu_host, gpu, n, 100 + static_cast<uint64_t>(n));
    if (HasFatalFailure()) return;
  }
  // Change every parameter on both hosts (lambda is read at each forward, the
  // Linear parameters need the upload).
  for (Sequential* m : {cpu.get(), gpu_host.get()})
    for (const ParameterRef& p : m->parameters())
      for (int64_t i = 0; i < p.value->size(); ++i) (*p.value)[i] += 0.05f * std::sin(static_cast<float>(i + 1));
  gpu.upload_parameters();
  expect_model_matches(*cpu, *gpu_host, gpu, 31, 7);
}

TEST(CudaModel, MlpModelsMatchCpu) {
  NMODE_REQUIRE_GPU();
  for (const char* kind : {"mlp-relu", "mlp-tanh"}) {
    SCOPED_TRACE(kind);
    ModelSpec spec;
    spec.kind = kind;
    spec.input = 20;
    spec.hidden = 33;
    spec.classes = 7;
    auto cpu = make_model(spec, 9);
    auto gpu_host = make_model(spec, 9);
    CudaModel gpu(*gpu_host);
    for (int64_t n : {31, 257}) {
      expect_model_matches(*cpu, *gpu_host, gpu, n, 200 + static_cast<uint64_t>(n));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(CudaModel, ReferenceShapesMatchCpu) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec;  // 784 -> 2048 nmODE -> 10
  auto cpu = make_model(spec, 3);
  auto gpu_host = make_model(spec, 3);
  CudaModel gpu(*gpu_host);
  expect_model_matches(*cpu, *gpu_host, gpu, 256, 11);
}

TEST(CudaModel, GradientsAccumulateAndInferenceGivesTheSameLogits) {
  NMODE_REQUIRE_GPU();
  ModelSpec spec;
  spec.input = 20;
  spec.hidden = 33;
  spec.classes = 7;
  spec.learn_lambda = true;
  auto host = make_model(spec, 4);
  CudaModel gpu(*host);
  Tensor x({5, 20}), logits, logits_inference, dlogits({5, 7});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 11) / 11.0f;
  for (int64_t i = 0; i < dlogits.size(); ++i) dlogits[i] = static_cast<float>(i % 5) - 2.0f;

  host->zero_grad();
  gpu.forward(x, logits, true);
  gpu.backward(dlogits);
  std::vector<Tensor> once;
  for (const ParameterRef& p : host->parameters()) once.push_back(*p.grad);
  // The same backward again adds the same (deterministic) gradients: exactly twice.
  gpu.backward(dlogits);
  for (size_t k = 0; k < once.size(); ++k) {
    const Tensor& twice = *host->parameters()[k].grad;
    for (int64_t i = 0; i < twice.size(); ++i)
      ASSERT_EQ(twice[i], 2.0f * once[k][i]) << host->parameters()[k].name << " element " << i;
  }
  // The value-only solver gives bitwise the same y as the one with sensitivities.
  gpu.forward(x, logits_inference, false);
  for (int64_t i = 0; i < logits.size(); ++i) ASSERT_EQ(logits_inference[i], logits[i]) << i;
}

TEST(CudaModel, MisuseAndSolverFailuresThrow) {
  NMODE_REQUIRE_GPU();
  ModelSpec spec;
  spec.input = 6;
  spec.hidden = 5;
  spec.classes = 3;
  auto host = make_model(spec, 2);
  CudaModel gpu(*host);
  Tensor x({2, 6}, 0.5f), logits;
  EXPECT_THROW(gpu.backward(Tensor({2, 3})), InvalidArgument);  // no training forward yet
  EXPECT_THROW(gpu.forward(Tensor({2, 5}), logits, true), InvalidArgument);
  gpu.forward(x, logits, false);
  EXPECT_THROW(gpu.backward(Tensor({2, 3})), InvalidArgument);  // the latest forward was inference
  gpu.forward(x, logits, true);
  EXPECT_THROW(gpu.backward(Tensor({3, 3})), InvalidArgument);
  EXPECT_NO_THROW(gpu.backward(Tensor({2, 3})));
  // An empty batch is fine.
  gpu.forward(Tensor({0, 6}), logits, true);
  EXPECT_EQ(logits.shape(), (std::vector<int64_t>{0, 3}));
  Tensor dx;
  gpu.backward(Tensor({0, 3}), &dx);
  EXPECT_EQ(dx.shape(), (std::vector<int64_t>{0, 6}));
  // A NaN input makes the solver fail; the GPU path throws like the CPU layer.
  x[3] = std::nanf("");
  try {
    gpu.forward(x, logits, true);
    FAIL() << "a NaN input did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN/Inf"), std::string::npos) << e.what();
  }
}

// The whole step on the device (train_step: loss, backward and Adam there, a
// learnable lambda's update on the host) against the same step on the CPU from the
// same model: the loss and verdicts agree, and after three steps nearly every
// parameter is within lr / 10 of its CPU twin (Adam moves each by about lr per
// step, so only a parameter whose gradient is rounding noise may go another way).
// Bad labels are refused before anything moves; a failed solve is reported.
TEST(CudaModel, TrainStepFollowsTheCpuStep) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec = small_nmode_spec(4);
  auto cpu = make_model(spec, 5), host = make_model(spec, 5);
  CudaModel gpu(*host);
  AdamOptions o;
  o.lr = 1e-3;
  NmOdePlusOptions plus{cpu->nmode_input_weights(), 0.3, 1e-2};
  Adam cpu_adam(o, plus), gpu_adam(o, plus);
  gpu.upload_training_state(gpu_adam);
  const int64_t n = 16;
  Tensor x({n, spec.input}), logits, dlogits;
  SplitMix64 rng(8);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.next_uniform01());
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = static_cast<int32_t>(i % spec.classes);

  std::vector<int32_t> bad = labels;
  bad[3] = 4;
  EXPECT_THROW(gpu.train_step(x, bad, gpu_adam), InvalidArgument);
  EXPECT_THROW(gpu.train_step(x, std::vector<int32_t>(3, 0), gpu_adam), InvalidArgument);
  EXPECT_EQ(gpu_adam.step_count(), 0) << "a refused step must not count";

  for (int step = 1; step <= 3; ++step) {
    cpu->zero_grad();
    cpu->forward(x, logits, true);
    const double loss = softmax_cross_entropy(logits, labels.data(), &dlogits) * double(n);
    const int64_t correct = count_correct(logits, labels.data());
    cpu->backward(dlogits);
    cpu_adam.step(cpu->parameters());
    const CudaModel::TrainStep g = gpu.train_step(x, labels, gpu_adam);
    EXPECT_NEAR(g.loss_sum, loss, 1e-4 * loss) << "step " << step;
    EXPECT_NEAR(double(g.correct), double(correct), 1.0) << "step " << step;
    EXPECT_EQ(gpu_adam.step_count(), step);
  }
  gpu.download_training_state(gpu_adam);
  const auto& pc = cpu->parameters();
  const auto& pg = host->parameters();
  int64_t total = 0, apart = 0;
  for (size_t k = 0; k < pc.size(); ++k)
    for (int64_t i = 0; i < pc[k].value->size(); ++i) {
      const double d = std::abs(double((*pc[k].value)[i]) - double((*pg[k].value)[i]));
      EXPECT_LT(d, 3 * o.lr + 1e-6) << pc[k].name << "[" << i << "]: more than three Adam steps apart";
      apart += d > 0.1 * o.lr;
      total += 1;
    }
  EXPECT_LT(double(apart), 0.02 * double(total)) << apart << " of " << total << " parameters more than lr/10 apart";
  for (size_t k = 0; k < pc.size(); ++k)
    EXPECT_EQ(gpu_adam.first_moment(k).shape(), cpu_adam.first_moment(k).shape()) << pc[k].name;
  // The solver's statistics come back with the loss, and a failed solve throws there.
  x[7] = std::nanf("");
  try {
    gpu.train_step(x, labels, gpu_adam);
    FAIL() << "a NaN input did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN/Inf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nmode
