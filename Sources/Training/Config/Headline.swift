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

  public init(_ name: String, _ aggregate: Aggregate = .last, minimize: Bool = false) {
    self.name = name
    self.aggregate = aggregate
    self.minimize = minimize
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
        HeadlineMetric("grad/effectiveRatio", .mean), HeadlineMetric("budget/max", .mean),
        HeadlineMetric("hicra/planningRatio", .mean),
        HeadlineMetric("hicra/semanticEntropy", .mean),
        HeadlineMetric("completion/meanLength", .mean),
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
