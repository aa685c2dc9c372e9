import Foundation

/// Every baseline played through full episodes of one scenario: mean ± std of the return
/// over seeds for the random allocators, tasks completed, seconds per decision.
public struct BaselineReport: Sendable {
  public struct Row: Sendable {
    public var allocator: String
    public var returns: [Double]
    public var tasksCompleted: [Int]
    public var secondsPerDecision: Double
    /// Mean over decisions of (bounded exact payoff − this allocator's payoff), when measured.
    public var meanGap: Double? = nil

    public var mean: Double { returns.reduce(0, +) / Double(max(returns.count, 1)) }
    public var std: Double {
      guard returns.count > 1 else { return 0 }
      let m = mean
      return (returns.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(returns.count - 1))
        .squareRoot()
    }
  }

  public var scenario: String
  public var rows: [Row]

  /// Runs sequential, random order and genetic (`seeds` seeds each where random), greedy
  /// cover, and the bounded exact allocator (`exactNodes` nodes per decision; 0 skips it).
  /// With `gapNodes` > 0 every decision of every row is also solved by the bounded exact
  /// allocator (that many nodes) to measure the row's optimality gap per decision.
  /// `announce` is told each row's name before it is played.
  public init(
    _ scenario: Scenario, seeds: Int = 5, exactNodes: Int = 2000, gapNodes: Int = 0,
    gapFailures: SolverFailures? = nil, announce: (String) -> Void = { _ in }
  ) {
    self.scenario = scenario.name
    func play<A: Allocator>(_ name: String, _ allocators: [A]) -> Row {
      announce(name)
      return Self.play(scenario, name, allocators, gapNodes: gapNodes, gapFailures: gapFailures)
    }
    var rows: [Row] = []
    if exactNodes > 0 {
      rows.append(play("exact per decision", [BoundedExact(nodeLimit: exactNodes)]))
    }
    rows.append(play("sequential", [OrderedAllocator.sequential]))
    rows.append(
      play("random order", (0..<seeds).map { OrderedAllocator.randomOrder(seed: UInt64($0)) }))
    rows.append(play("greedy cover", [GreedyCover()]))
    rows.append(play("genetic", (0..<seeds).map { GeneticAllocator(seed: UInt64($0)) }))
    self.rows = rows
  }

  /// Full episodes of `scenario` with each of `allocators` (one row); with `gapNodes` > 0,
  /// the mean optimality gap per decision against the bounded exact allocator, whose
  /// decisions that GLPK could not solve exactly are counted in `gapFailures`.
  public static func play<A: Allocator>(
    _ scenario: Scenario, _ name: String, _ allocators: [A], gapNodes: Int = 0,
    gapFailures: SolverFailures? = nil
  ) -> Row {
    var results: [EpisodeResult] = []
    var gaps: [Double] = []
    let measure: ((AllocationProblem, Allocation) -> Void)? =
      gapNodes > 0
      ? { problem, allocation in
        var exact = BoundedExact(nodeLimit: gapNodes, failures: gapFailures)
        gaps.append(problem.payoff(exact.allocate(problem)) - problem.payoff(allocation))
      } : nil
    for var a in allocators {
      results.append(runEpisode(scenario, allocator: &a, onDecision: measure))
    }
    return Row(
      allocator: name, returns: results.map(\.totalReturn),
      tasksCompleted: results.map(\.tasksCompleted),
      secondsPerDecision: results.map(\.secondsPerDecision).reduce(0, +) / Double(results.count),
      meanGap: gaps.isEmpty ? nil : gaps.reduce(0, +) / Double(gaps.count))
  }

  /// A Markdown table.
  public var markdown: String {
    let withGap = rows.contains { $0.meanGap != nil }
    var lines = [
      "| \(scenario) | return | tasks completed | seconds per decision | decisions per second |"
        + (withGap ? " gap to exact per decision |" : ""),
      "| --- | --- | --- | ---: | ---: |" + (withGap ? " ---: |" : ""),
    ]
    for r in rows {
      let value =
        r.returns.count > 1
        ? String(format: "%.1f ± %.1f", r.mean, r.std) : String(format: "%.1f", r.mean)
      let (fewest, most) = (r.tasksCompleted.min() ?? 0, r.tasksCompleted.max() ?? 0)
      let tasks = fewest == most ? "\(fewest)" : "\(fewest)–\(most)"
      lines.append(
        "| \(r.allocator) | \(value) | \(tasks) | \(String(format: "%.4f", r.secondsPerDecision)) | "
          + (r.secondsPerDecision > 0
            ? String(format: r.secondsPerDecision > 0.1 ? "%.2f" : "%.0f", 1 / r.secondsPerDecision)
            : "–")
          + " |" + (withGap ? " \(r.meanGap.map { String(format: "%.3f", $0) } ?? "–") |" : "")
      )
    }
    return lines.joined(separator: "\n")
  }
}
