// The names of the library's settings: every to_string has a parse_* that inverts
// it and refuses anything else with a message that lists the choices.
#include <gtest/gtest.h>

#include <string>

#include "nmode/attack.hpp"
#include "nmode/certify.hpp"
#include "nmode/device.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"
#include "nmode/simd.hpp"
#include "nmode/train.hpp"

namespace nmode {
namespace {

template <class E, class Parse>
void expect_round_trip(std::initializer_list<E> values, Parse parse) {
  for (const E v : values) EXPECT_EQ(parse(to_string(v)), v) << to_string(v);
}

template <class Parse>
void expect_refused(Parse parse, const std::string& bad, const std::string& listed) {
  try {
    parse(bad);
    ADD_FAILURE() << "'" << bad << "' was accepted";
  } catch (const InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'" + bad + "'"), std::string::npos) << m;
    EXPECT_NE(m.find(listed), std::string::npos) << m;
  }
}

TEST(Names, ParseInvertsToString) {
  expect_round_trip({Norm::Linf, Norm::L2}, parse_norm);
  expect_round_trip({AttackKind::FGSM, AttackKind::PGD, AttackKind::APGD, AttackKind::Square}, parse_attack_kind);
  expect_round_trip({AttackLoss::CE, AttackLoss::DLR}, parse_attack_loss);
  expect_round_trip({L2Start::UniformRadius, L2Start::Sphere, L2Start::UniformVolume}, parse_l2_start);
  expect_round_trip({Device::Cpu, Device::Cuda, Device::Auto}, parse_device);
  expect_round_trip({AdversarialTraining::None, AdversarialTraining::Pgd, AdversarialTraining::Trades},
                    parse_adversarial_training);
  expect_round_trip({ElementStatus::Converged, ElementStatus::MaxSteps, ElementStatus::NonFinite,
                     ElementStatus::StepTooSmall},
                    parse_element_status);
  for (SimdTarget t : compiled_simd_targets()) EXPECT_EQ(parse_simd_target(to_string(t)), t);
}

TEST(Names, UnknownNamesAreRefusedListingTheChoices) {
  expect_refused(parse_norm, "l1", "linf, l2");
  expect_refused(parse_attack_kind, "cw", "fgsm, pgd, apgd, square");
  expect_refused(parse_attack_loss, "margin", "ce, dlr");
  expect_refused(parse_l2_start, "PGD", "uniform-radius, sphere, uniform-volume");
  expect_refused(parse_norm, "", "linf, l2");
  expect_refused(parse_device, "gpu", "cpu, cuda, auto");
  expect_refused(parse_adversarial_training, "fgsm", "none, pgd, trades");
  expect_refused(parse_element_status, "ok", "converged, max_steps, non_finite, step_too_small");
}

// The certificates and the attacks speak of the same norm.
TEST(Names, CertificatesUseTheAttacksNorm) {
  const CertNorm n = Norm::L2;
  EXPECT_STREQ(to_string(n), "l2");
}

}  // namespace
}  // namespace nmode
