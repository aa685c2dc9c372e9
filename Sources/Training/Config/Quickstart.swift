extension ExperimentConfig {
  /// The config `train` runs with no `--config`: GRPO with Knapsack-RL budgets and HICRA
  /// credit training the two-stage task-allocation policy on the rbf scenario, a few
  /// minutes on one core, with an evaluation before the first step and at the end
  /// (README.md, docs/getting-started.md). The classifier of the defaults is
  /// `Experiments/spirals.json`.
  public static var quickstart: ExperimentConfig {
    var config = ExperimentConfig()
    config.kind = .taskAllocation
    config.notes =
      "The quickstart: GRPO + Knapsack-RL + HICRA of the two-stage task-allocation policy on rbf."
    config.run.name = "quickstart"
    config.run.steps = 200
    config.taskAllocation.scenario = "Experiments/scenarios/rbf.json"
    config.optimizer.kind = .adam
    config.optimizer.learningRate = 0.003
    config.optimizer.schedule = .constant
    config.grpo.promptsPerStep = 8
    config.grpo.groupSize = 8
    config.knapsack.enabled = true
    config.hicra.enabled = true
    config.checkpoint.every = 100
    config.logging.every = 10
    config.logging.evalEvery = 50
    return config
  }

  /// Printed when the quickstart finishes: what to try next.
  public static let quickstartNext =
    "next: swift run -c release train --config Experiments/ta-rbf-grpo.json   # the same "
    + "without Knapsack-RL and HICRA, to compare; README.md goes on from there"

  /// How errors name the quickstart's values.
  public static let quickstartSource = "the built-in quickstart config"
}
