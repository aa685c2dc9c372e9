/// A metric a kind of run is judged by, and how a run is scored by it.
public struct HeadlineMetric: Sendable, Equatable {
  /// How a run is scored by a metric: its last logged value, or its mean over the run.
  public enum Aggregate: String, Sendable, CaseIterable { case last, mean }

  public var name: String
  /// Score a run by the last logged value (evaluations) or the mean over the run (training
  /// signals that move from step to step).
  public var aggregate: Aggregate
  /// Lower is better (losses, gaps).
  public var minimize: Bool
  /// Whether a best value means anything: false for what describes a run rather than
  /// scores it (budgets, lengths, HICRA's shares), whose tables mark no best.
  public var ranked: Bool

  public init(
    _ name: String, _ aggregate: Aggregate = .last, minimize: Bool = false, ranked: Bool = true
  ) {
    self.name = name
    self.aggregate = aggregate
    self.minimize = minimize
    self.ranked = ranked
  }

  /// A metric named on the command line: losses, gaps and times rank lowest first; budgets,
  /// lengths, counts, HICRA's and the communication's figures describe and are not ranked;
  /// everything else ranks highest first (`minimize` forces lowest first).
  public init(named name: String, _ aggregate: Aggregate, minimize: Bool) {
    let descriptive = [
      "budget/", "completion/", "hicra/", "knapsack/", "dynamicSampling/", "data/",
    ]
    let lower =
      minimize || name.hasPrefix("loss/") || name.hasSuffix("/gap") || name.hasSuffix("Seconds")
    self.init(
      name, aggregate, minimize: lower,
      ranked: minimize || !(descriptive.contains { name.hasPrefix($0) } || name.hasSuffix("Bytes")))
  }
}

extension ExperimentConfig {
  /// What trains: `classifier`, `sft`, `grpo`, `taskAllocation/grpo` or `taskAllocation/sac`.
  /// Runs of one kind log the same metrics (docs/metrics.md).
  public var kindLabel: String {
    kind == .taskAllocation ? "taskAllocation/\(taskAllocation.method.rawValue)" : kind.rawValue
  }

  /// The metrics `allot summarize` and the end-of-run table show first for this kind.
  public var headlineMetrics: [HeadlineMetric] {
    switch (kind, taskAllocation.method) {
    case (.classifier, _):
      [HeadlineMetric("eval/accuracy"), HeadlineMetric("eval/loss", minimize: true)]
    case (.sft, _):
      [HeadlineMetric("eval/pass1"), HeadlineMetric("loss/train", minimize: true)]
    case (.grpo, _):
      [
        HeadlineMetric("eval/pass1"), HeadlineMetric("reward/mean", .mean),
        HeadlineMetric("grad/effectiveRatio", .mean),
        HeadlineMetric("budget/max", .mean, ranked: false),
        HeadlineMetric("hicra/planningRatio", .mean, ranked: false),
        HeadlineMetric("hicra/semanticEntropy", .mean, ranked: false),
        HeadlineMetric("completion/meanLength", .mean, ranked: false),
      ]
    case (.taskAllocation, .grpo):
      [
        HeadlineMetric("eval/return"), HeadlineMetric("eval/returnSampled"),
        HeadlineMetric("eval/pass1"), HeadlineMetric("eval/gap", minimize: true),
        HeadlineMetric("episode/return", .mean), HeadlineMetric("reward/mean", .mean),
        HeadlineMetric("grad/effectiveRatio", .mean),
      ]
    case (.taskAllocation, .sac):
      [
        HeadlineMetric("eval/return"), HeadlineMetric("eval/returnSampled"),
        HeadlineMetric("eval/gap", minimize: true), HeadlineMetric("episode/return", .mean),
      ]
    }
  }
}
