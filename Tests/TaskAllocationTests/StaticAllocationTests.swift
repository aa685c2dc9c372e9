import Foundation
import TaskAllocation
import TensorCore
import Testing

private let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("../../Experiments/scenarios").standardized

private func scenario(_ name: String, base: String? = nil) throws -> Scenario {
  let b = try base.map { try Scenario.load(scenarios.appendingPathComponent("\($0).json").path) }
  return try Scenario.load(scenarios.appendingPathComponent("\(name).json").path, base: b)
}

@Test func almightyOptimumIs35AndSequentialFallsInto28() throws {
  let problem = try scenario("almighty").firstDecision
  let exact = ExactSolver().solve(problem)
  #expect(exact.optimal)
  #expect(abs(exact.value - 35) < 1e-9)
  #expect(exact.allocation.assignment[24] == 8)  // the almighty entity takes the big task
  var sequential = OrderedAllocator.sequential
  let trap = sequential.allocate(problem)
  #expect(abs(problem.payoff(trap) - 28) < 1e-9)
  #expect(trap.assignment[24] == 0)  // spent on the first small task
}

/// GLPK finds the spec's static optimum 10.8 but cannot close the gap to its LP bound
/// (10.968) in reasonable time; a node limit keeps the search reproducible.
@Test func rbfFirstDecisionReachesTheStaticOptimum10_8() throws {
  let rbf = try scenario("rbf")
  #expect(rbf.entities.count == 60 && rbf.tasks.count == 30 && rbf.taskSlots == 5)
  let problem = rbf.firstDecision
  var sequential = OrderedAllocator.sequential
  let heuristic = sequential.allocate(problem)
  #expect(abs(problem.payoff(heuristic) - 10.3) < 1e-9)
  var solver = ExactSolver(timeLimit: 600, incumbent: heuristic)
  solver.nodeLimit = 40_000
  let exact = solver.solve(problem)
  #expect(abs(exact.value - 10.8) < 1e-6, "exact value \(exact.value)")
  #expect(problem.isFeasible(exact.allocation))
  #expect(exact.bound >= exact.value - 1e-9)
}

@Test func everyShippedScenarioLoads() throws {
  let rbf = try scenario("rbf")
  let rbf100 = try scenario("rbf-100", base: "rbf")
  #expect(rbf100.entities.count == 100 && rbf100.tasks == rbf.tasks)
  let alt = try scenario("rbf-alt-tasks", base: "rbf")
  #expect(alt.entities == rbf.entities && alt.tasks != rbf.tasks && alt.tasks.count == 30)
  let electric = try scenario("electric")
  #expect(electric.kind == .electric && electric.entities.count == 20 && electric.tasks.count == 30)
  #expect(electric.tasks.allSatisfy { $0.site != nil })
  let electric2023 = try scenario("electric-2023", base: "electric")
  #expect(
    electric2023.entities.count == 20
      && electric2023.tasks.map(\.site) == electric.tasks.map(\.site))
  let material = try scenario("material")
  #expect(material.kind == .material && material.gridSize == 100 && material.maxSteps == 150)
  #expect(material.tasks.reduce(0) { $0 + $1.reward } == 1665)  // the spec's ceiling
  #expect(rbf.tasks.reduce(0) { $0 + $1.reward } == 160)
}

/// Every assignment of entities to tasks or none, for tiny instances.
private func bruteForce(_ problem: AllocationProblem) -> Double {
  var best = 0.0
  var assignment = [Int?](repeating: nil, count: problem.entities.count)
  func search(_ i: Int) {
    if i == problem.entities.count {
      best = max(best, problem.payoff(problem.normalised(assignment)))
      return
    }
    let choices: [Int?] =
      problem.entityAvailable[i]
      ? [nil] + problem.tasks.indices.filter { problem.taskAvailable[$0] } : [nil]
    for c in choices {
      assignment[i] = c
      search(i + 1)
    }
    assignment[i] = nil
  }
  search(0)
  return best
}

private func randomProblem(_ rng: inout RandomState, entities: Int, tasks: Int, dimensions: Int)
  -> AllocationProblem
{
  AllocationProblem(
    entities: (0..<entities).map { _ in
      Entity(
        cost: Double(rng.nextInt(below: 4)),
        capability: (0..<dimensions).map { _ in Double(rng.nextInt(below: 4)) })
    },
    tasks: (0..<tasks).map { _ in
      TaskSpec(
        reward: Double(1 + rng.nextInt(below: 10)),
        requirement: (0..<dimensions).map { _ in Double(rng.nextInt(below: 5)) })
    },
    entityAvailable: (0..<entities).map { _ in rng.nextUniform() < 0.85 },
    taskAvailable: (0..<tasks).map { _ in rng.nextUniform() < 0.85 })
}

@Test func exactSolverEqualsBruteForceOnTinyInstances() {
  var rng = RandomState(seed: 21)
  for _ in 0..<60 {
    let problem = randomProblem(
      &rng, entities: 2 + rng.nextInt(below: 4), tasks: 1 + rng.nextInt(below: 3),
      dimensions: 1 + rng.nextInt(below: 3))
    let exact = ExactSolver().solve(problem)
    #expect(exact.optimal)
    #expect(problem.isFeasible(exact.allocation))
    #expect(abs(exact.value - bruteForce(problem)) < 1e-9)
  }
}

@Test func heuristicsAlwaysReturnFeasibleAllocations() {
  var rng = RandomState(seed: 4)
  for round in 0..<25 {
    let problem = randomProblem(
      &rng, entities: 4 + rng.nextInt(below: 12), tasks: 1 + rng.nextInt(below: 5),
      dimensions: 1 + rng.nextInt(below: 3))
    var greedy = GreedyCover()
    var ga = GeneticAllocator(seed: UInt64(round), population: 20, generations: 20)
    var sequential = OrderedAllocator.sequential
    var random = OrderedAllocator.randomOrder(seed: UInt64(round))
    let bound = ExactSolver().solve(problem).value
    for allocation in [
      greedy.allocate(problem), ga.allocate(problem), sequential.allocate(problem),
      random.allocate(problem),
    ] {
      #expect(problem.isFeasible(allocation))
      #expect(problem.payoff(allocation) <= bound + 1e-9)
      #expect(problem.payoff(allocation) >= 0)
    }
  }
}

@Test func malformedScenariosNameTheFieldAndIndex() throws {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-scenario-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  func message(_ json: String) -> String {
    let url = dir.appendingPathComponent("s.json")
    try? Data(json.utf8).write(to: url)
    do {
      _ = try Scenario.load(url.path)
      return ""
    } catch { return "\(error)" }
  }
  #expect(
    message(
      #"{"oneStep": true, "entities": [{"cost": 1, "capability": [1, 0]}, {"cost": 1, "capability": [1]}], "tasks": []}"#
    )
    .contains("entities[1].capability: expected 2 numbers, got 1"))
  #expect(
    message(#"{"oneStep": true, "entities": [{"cost": "x", "capability": [1]}], "tasks": []}"#)
      .contains("entities[0].cost: expected a number, got \"x\""))
  #expect(
    message(
      #"{"grid": 7, "entities": [{"cost": 1, "capability": [1]}], "taskQueue": [{"reward": 1, "requirement": [1], "position": [9, 1]}]}"#
    )
    .contains("taskQueue[0].position: [9.0, 1.0] lies outside the 7×7 grid"))
  #expect(
    message(
      #"{"sites": [{"reward": 1, "demand": 2, "position": [0, 0]}], "conveyCost": [0.1], "taskQueue": [3]}"#
    )
    .contains("taskQueue[0]: site 3.0 is not one of the 1 sites"))
  #expect(message("[1]").contains("is not a JSON object"))
  #expect(message(#"{"grid": 7, "taskQueue": []}"#).contains("entities: missing"))
}
