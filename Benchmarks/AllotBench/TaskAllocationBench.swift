import CGLPK
import Foundation
import TaskAllocation

/// Exact-solver and baseline time per decision on the first decision of each shipped
/// scenario.
func benchmarkTaskAllocation() {
  let folder = "Experiments/scenarios"
  func load(_ name: String, base: String? = nil) -> Scenario? {
    let b = base.flatMap { try? Scenario.load("\(folder)/\($0).json") }
    return try? Scenario.load("\(folder)/\(name).json", base: b)
  }
  let scenarios: [(String, Scenario?)] = [
    ("almighty", load("almighty")), ("rbf", load("rbf")), ("rbf-100", load("rbf-100", base: "rbf")),
    ("rbf-alt-tasks", load("rbf-alt-tasks", base: "rbf")), ("electric", load("electric")),
    ("electric-2023", load("electric-2023", base: "electric")), ("material", load("material")),
  ]
  print("first decision of each scenario: payoff (seconds per decision)")
  print("scenario        exact (optimal?, bound)            sequential      greedy        genetic")
  for (name, scenario) in scenarios {
    guard let scenario else {
      print("\(name): cannot load (run from the repository root)")
      continue
    }
    let problem = scenario.firstDecision
    func timed(_ body: () -> Double) -> (Double, Double) {
      let start = DispatchTime.now().uptimeNanoseconds
      let value = body()
      return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    var sequential = OrderedAllocator.sequential
    let seeded = sequential.allocate(problem)
    var exactResult: ExactSolver.Result?
    let exact = timed {
      exactResult = ExactSolver(timeLimit: 30, incumbent: seeded).solve(problem)
      return exactResult!.value
    }
    var greedy = GreedyCover()
    var genetic = GeneticAllocator(seed: 0)
    sequential = .sequential
    let s = timed { problem.payoff(sequential.allocate(problem)) }
    let g = timed { problem.payoff(greedy.allocate(problem)) }
    let ga = timed { problem.payoff(genetic.allocate(problem)) }
    print(
      String(
        format: "%@ %7.2f (%@, %.2f) %6.2fs   %6.2f %6.3fs  %6.2f %6.3fs  %6.2f %6.2fs",
        name.padding(toLength: 14, withPad: " ", startingAt: 0), exact.0,
        exactResult!.optimal ? "opt" : "lim", exactResult!.bound, exact.1, s.0, s.1, g.0, g.1, ga.0,
        ga.1))
  }
}

/// Exact-solver search length on rbf's first decision (for tuning).
func probeExactSolver() {
  guard let rbf = try? Scenario.load("Experiments/scenarios/rbf.json") else { return }
  let problem = rbf.firstDecision
  var sequential = OrderedAllocator.sequential
  let heuristic = sequential.allocate(problem)
  for nodes in [10000, 40000] {
    var solver = ExactSolver(timeLimit: 120, incumbent: heuristic)
    solver.nodeLimit = nodes
    let start = DispatchTime.now().uptimeNanoseconds
    let r = solver.solve(problem)
    print(
      String(
        format: "%6d nodes: %.2f optimal=%@ bound %.3f in %.1fs", nodes, r.value,
        r.optimal ? "yes" : "no", r.bound,
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
  }
}

/// Full episodes of the grid scenarios for every baseline (mean ± std over 5 seeds where
/// random), and environment steps per second.
func benchmarkTaskAllocationEpisodes() {
  let folder = "Experiments/scenarios"
  let base = try? Scenario.load("\(folder)/rbf.json")
  let grids: [(String, Scenario?)] = [
    ("rbf", base), ("rbf-100", try? Scenario.load("\(folder)/rbf-100.json", base: base)),
    ("rbf-alt-tasks", try? Scenario.load("\(folder)/rbf-alt-tasks.json", base: base)),
    ("material", try? Scenario.load("\(folder)/material.json")),
    ("electric", try? Scenario.load("\(folder)/electric.json")),
    (
      "electric-2023",
      try? Scenario.load(
        "\(folder)/electric-2023.json", base: try? Scenario.load("\(folder)/electric.json"))
    ),
  ]
  func stats(_ xs: [Double]) -> String {
    let m = xs.reduce(0, +) / Double(xs.count)
    let sd =
      xs.count > 1
      ? (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)).squareRoot() : 0
    return xs.count > 1 ? String(format: "%.1f ± %.1f", m, sd) : String(format: "%.1f", m)
  }
  print("episode return (tasks completed), seconds per decision:")
  for (name, scenario) in grids {
    guard let scenario else { continue }
    var sequential = OrderedAllocator.sequential
    let s = runEpisode(scenario, allocator: &sequential)
    var greedy = GreedyCover()
    let g = runEpisode(scenario, allocator: &greedy)
    let random = (0..<5).map { seed -> EpisodeResult in
      var a = OrderedAllocator.randomOrder(seed: UInt64(seed))
      return runEpisode(scenario, allocator: &a)
    }
    let genetic = (0..<5).map { seed -> EpisodeResult in
      var a = GeneticAllocator(seed: UInt64(seed))
      return runEpisode(scenario, allocator: &a)
    }
    var exact = BoundedExact()
    let e = runEpisode(scenario, allocator: &exact)
    print(
      "\(name.padding(toLength: 14, withPad: " ", startingAt: 0)) exact≤2000 nodes \(stats([e.totalReturn])) (\(e.tasksCompleted)) "
        + String(format: "%.2fs", e.secondsPerDecision)
        + " | sequential \(stats([s.totalReturn])) (\(s.tasksCompleted)) "
        + String(format: "%.3fs", s.secondsPerDecision)
        + " | random order \(stats(random.map(\.totalReturn))) | greedy \(stats([g.totalReturn])) (\(g.tasksCompleted)) "
        + String(format: "%.4fs", g.secondsPerDecision)
        + " | genetic \(stats(genetic.map(\.totalReturn))) "
        + String(format: "%.3fs", genetic[0].secondsPerDecision))
    // Environment speed: idle steps through a whole episode.
    let start = DispatchTime.now().uptimeNanoseconds
    var steps = 0
    for _ in 0..<20 {
      var env = makeEnvironment(scenario)!
      while !env.isDone {
        env.advance()
        steps += 1
      }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(String(format: "  environment: %.0f steps/s", Double(steps) / seconds))
  }
}
