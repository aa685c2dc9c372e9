import Foundation
import TaskAllocation
import Testing

/// A 3×3 grid, entities starting at (0, 0), one or two tasks.
private func tiny(_ tasks: [TaskSpec], entities: [Entity], refillEvery: Int = 5, slots: Int = 1, decayAfter: Int = 10)
  -> Scenario
{
  Scenario(
    name: "tiny", kind: .rbf, entities: entities, tasks: tasks, taskSlots: slots, refillEvery: refillEvery, maxSteps: 20,
    decay: 0.5, decayAfterStale: decayAfter, gridSize: 3, start: [0, 0])
}

private let twoSkills = [
  Entity(cost: 1, capability: [2, 0]), Entity(cost: 0.5, capability: [0, 2]), Entity(cost: 9, capability: [5, 5]),
]

@Test func completionNeedsEveryDimensionAndCoLocation() {
  var env = GridEnvironment(tiny([TaskSpec(reward: 10, requirement: [2, 2], position: [1, 0])], entities: twoSkills))
  var problem = env.decision
  #expect(problem.taskAvailable == [true])
  // Entity 0 alone does not cover the second dimension: not a feasible allocation.
  #expect(!problem.isFeasible(Allocation(assignment: [0, nil, nil])))
  env.allocate(Allocation(assignment: [0, 0, nil]))
  problem = env.decision
  #expect(problem.entityAvailable == [false, false, true])  // busy while allocated
  #expect(env.advance() == 0)  // both walk one cell to (1, 0): not yet working
  #expect(env.totalReturn == 0)  // nothing is charged before completion
  let payoff = env.advance()  // both work on the cell: covered
  #expect(payoff == 10 - 1.5)
  #expect(env.completed == 1 && env.totalReward == 10)
  #expect(env.decision.entityAvailable == [true, true, true])
}

@Test func entitiesMustAllArriveBeforeTheTaskCompletes() {
  let entities = [Entity(cost: 1, capability: [2, 0]), Entity(cost: 1, capability: [0, 2])]
  var scenario = tiny([TaskSpec(reward: 5, requirement: [2, 2], position: [2, 2])], entities: entities)
  scenario.start = nil
  scenario.entities[0].position = [2, 2]  // already on the cell
  scenario.entities[1].position = [0, 0]  // four moves away
  var env = GridEnvironment(scenario)
  env.allocate(Allocation(assignment: [0, 0]))
  for _ in 0..<4 { #expect(env.advance() == 0) }
  #expect(env.advance() == 3)  // arrives after four moves, works on the fifth step
}

@Test func staleSlotsDecay() {
  var env = GridEnvironment(
    tiny([TaskSpec(reward: 8, requirement: [1, 1], position: [0, 0])], entities: twoSkills, decayAfter: 2))
  for _ in 0..<4 { env.advance() }  // nobody allocated: stale 1, 2 (no decay), 3, 4 (× 0.5 each)
  #expect(env.slots[0]?.reward == 2)
  #expect(env.slots[0]?.requirement == [0.25, 0.25])
}

@Test func slotsRefillOnlyOnTheirPeriod() {
  let tasks = (0..<3).map { TaskSpec(reward: Double($0 + 1), requirement: [1, 0], position: [0, 0]) }
  var env = GridEnvironment(tiny(tasks, entities: twoSkills, refillEvery: 3))
  #expect(env.slots[0]?.reward == 1 && env.queueCursor == 1)
  env.allocate(Allocation(assignment: [0, nil, nil]))
  env.advance()  // completes at step 1; the slot stays empty until step 3
  #expect(env.slots[0] == nil)
  env.advance()
  #expect(env.slots[0] == nil)
  env.advance()
  #expect(env.slots[0]?.reward == 2 && env.queueCursor == 2)
}

@Test func episodesRunEveryBaselineOnRbf() throws {
  let rbf = try Scenario.load(
    URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../Experiments/scenarios/rbf.json").standardized.path)
  var greedy = GreedyCover()
  let result = runEpisode(rbf, allocator: &greedy)
  #expect(result.tasksCompleted > 0 && result.tasksCompleted <= 30)
  #expect(result.totalReturn <= 160)  // Σ R over the queue
  #expect(result.totalReward >= result.totalReturn)
  var again = GreedyCover()
  #expect(runEpisode(rbf, allocator: &again).totalReturn == result.totalReturn)  // deterministic
}

@Test func electricOutagesCostByDistanceAndBenchTheBrokenSite() {
  // Three sites on a line; an outage at site 0 (demand 4) needs supply from the others.
  let sites = [
    Entity(cost: 0.2, capability: [4], position: [0, 0]), Entity(cost: 0.4, capability: [3], position: [3, 4]),
    Entity(cost: 0.6, capability: [2], position: [6, 8]),
  ]
  let outage = TaskSpec(reward: 10, requirement: [4], position: [0, 0], site: 0)
  var env = ElectricEnvironment(
    Scenario(
      name: "line", kind: .electric, entities: sites, tasks: [outage], taskSlots: 1, refillEvery: 5, maxSteps: 10,
      decay: 0.9, decayAfterStale: 10, gridSize: nil, start: nil))
  let problem = env.decision
  #expect(problem.entityAvailable == [false, true, true])  // the broken site cannot supply
  #expect(abs(problem.cost(1, 0) - (0.4 + 0.2) / 2 * 5) < 1e-12)  // distance 5
  #expect(abs(problem.cost(2, 0) - (0.6 + 0.2) / 2 * 10) < 1e-12)  // distance 10
  #expect(!problem.isFeasible(Allocation(assignment: [nil, 0, nil])))  // 3 < 4
  env.allocate(Allocation(assignment: [nil, 0, 0]))
  #expect(env.totalReturn == 0)
  let payoff = env.advance()
  #expect(abs(payoff - (10 - 1.5 - 4)) < 1e-12)
  #expect(env.completed == 1 && env.decision.entityAvailable == [true, true, true])
}

@Test func oneStepScenariosRunAsASingleDecision() throws {
  let almighty = try Scenario.load(
    URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../Experiments/scenarios/almighty.json").standardized.path)
  var sequential = OrderedAllocator.sequential
  let result = runEpisode(almighty, allocator: &sequential, exact: ExactSolver())
  #expect(result.totalReturn == 28 && result.meanOptimalityGap == 7)
}

@Test func randomScenariosAreReproducibleAndPlayable() {
  let a = Scenario.random(entities: 40, tasks: 12, dimensions: 4, seed: 3)
  #expect(a == Scenario.random(entities: 40, tasks: 12, dimensions: 4, seed: 3))
  #expect(a != Scenario.random(entities: 40, tasks: 12, dimensions: 4, seed: 4))
  #expect(a.entities.count == 40 && a.tasks.count == 12 && a.dimensions == 4)
  var greedy = GreedyCover()
  let result = runEpisode(a, allocator: &greedy)
  #expect(result.tasksCompleted > 0)
}
