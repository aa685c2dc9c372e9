import Foundation
import GRPO
import Testing

@testable import Training

/// The loss-side variants of docs/grpo.md switched on together, three ways.
let variantSets: [[String]] = [
  [
    "grpo.policyLoss=gspo", "grpo.gspoEpsilonHigh=0.01", "grpo.klInReward=true",
    "grpo.klEstimator=mse", "grpo.entropyTopFraction=0.2", "grpo.advantageEstimator=rloo",
  ],
  [
    "grpo.policyLoss=cispo", "grpo.entropyCoefficient=0.01", "grpo.klEstimator=abs",
    "grpo.advantageEstimator=passAtK", "grpo.passK=2", "grpo.lossAggregation=bnpo",
  ],
  [
    "grpo.klEstimator=k1", "grpo.advantageEstimator=reinforcePlusPlusBaseline",
    "grpo.lossAggregation=dr_grpo", "grpo.dualClip=3",
  ],
]

/// `tinyGRPO` with `overrides` applied through the config loader (aliases, validation).
private func variantConfig(_ overrides: [String], steps: Int = 6) throws -> ExperimentConfig {
  try ConfigLoader.resolve(file: nil, overrides: overrides, defaults: tinyGRPO(steps: steps))
}

@Test(arguments: variantSets) func grpoVariantsResumeBitForBit(overrides: [String]) throws {
  try resumesBitForBit(try variantConfig(overrides)) {
    try GRPOTrainer(config: $0, task: LeadingDigitTask())
  }
}

@Test func grpoVariantMetricsAppearOnlyWhenOn() throws {
  let plain = try GRPOTrainer(config: tinyGRPO(steps: 1), task: LeadingDigitTask()).trainStep()
  for key in ["reward/klPenalty", "policy/entropyThreshold", "loss/entropy"] {
    #expect(plain[key] == nil, "\(key)")
  }
  let on = try GRPOTrainer(
    config: try variantConfig(variantSets[0] + ["grpo.entropyCoefficient=0.01"], steps: 1),
    task: LeadingDigitTask()
  ).trainStep()
  #expect(on["reward/klPenalty"]! >= 0)  // k2 is never negative
  #expect(on["policy/entropyThreshold"]! > 0)
  #expect(on["loss/entropy"]! > 0)
  #expect(on["loss/kl"] == 0)  // the KL is in the reward, not the loss
}

@Test func trlAggregationAndKLNamesMapOntoAllots() throws {
  let expected: [(String, LossAggregation)] = [
    ("grpo", .sequenceMeanTokenMean), ("bnpo", .minibatchTokenMean),
    ("dr_grpo", .sequenceMeanTokenSumNorm), ("dapo", .tokenMean),
  ]
  for (name, aggregation) in expected {
    #expect(try variantConfig(["grpo.lossAggregation=\(name)"]).grpo.lossAggregation == aggregation)
  }
  #expect(try variantConfig(["grpo.klEstimator=mse"]).grpo.klEstimator == .k2)
  let message = configProblems(["grpo.lossAggregation=mean"])
  #expect(message.contains("grpo.lossAggregation"))
  #expect(message.contains(#""dr_grpo""#) && message.contains(#""minibatchTokenMean""#))
}

@Test func grpoVariantErrorsNameTheKey() {
  let cases: [([String], String)] = [
    (["grpo.klInReward=true", "grpo.beta=0"], "grpo.klInReward"),
    (["grpo.policyLoss=cispo", "grpo.dualClip=3"], "grpo.dualClip"),
    (["grpo.entropyTopFraction=0"], "grpo.entropyTopFraction"),
    (["grpo.entropyCoefficient=-1"], "grpo.entropyCoefficient"),
    (["grpo.gspoEpsilonLow=1"], "grpo.gspoEpsilonLow"),
    (["grpo.advantageEstimator=passAtK", "grpo.passK=9"], "grpo.passK"),
    (["grpo.advantageEstimator=passAtK", "grpo.klInReward=true"], "grpo.klInReward"),
    (
      [
        "grpo.advantageEstimator=passAtK", "grpo.passK=3", "knapsack.enabled=true",
        "knapsack.low=2",
      ], "knapsack.low (2)"
    ),
    (["grpo.policyLoss=ppo"], #""gspo""#),
  ]
  for (overrides, named) in cases {
    let message = configProblems(overrides)
    #expect(message.contains(named), "\(overrides): \(message)")
  }
}

/// What resolving `tinyGRPO` with `overrides` reports ("" when it resolves).
private func configProblems(_ overrides: [String]) -> String {
  do {
    let config = try variantConfig(overrides)
    try config.validate(source: "test")
    return ""
  } catch {
    return "\(error)"
  }
}

@Test func eachVariantSetChangesTheUpdate() throws {
  func parameters(_ config: ExperimentConfig) throws -> [[Float]] {
    let trainer = try GRPOTrainer(config: config, task: LeadingDigitTask())
    _ = try trainer.trainStep()
    return trainer.policy.parameters.map(\.scalars)
  }
  let plain = try parameters(tinyGRPO(steps: 1))
  #expect(try parameters(tinyGRPO(steps: 1)) == plain)  // deterministic
  for overrides in variantSets {
    #expect(try parameters(variantConfig(overrides, steps: 1)) != plain, "\(overrides)")
  }
}
