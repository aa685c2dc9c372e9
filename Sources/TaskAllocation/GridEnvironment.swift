import Foundation

/// The time-stepped grid environments (rbf on a 7×7 grid, material on a 100×100 map):
/// task slots refill from the queue every `refillEvery` steps; entities walk to the task
/// they are allocated to (four moves on rbf, eight on material) and work there; a task
/// completes when the coalition working on its cell covers its requirement, paying its
/// reward minus their costs; a slot without a completion for `decayAfterStale` steps has
/// its reward and requirement multiplied by `decay` every further step.
public struct GridEnvironment: AllocationEnvironment, Sendable {
  public let scenario: Scenario
  public private(set) var step = 0
  /// Entity positions (x, y).
  public private(set) var positions: [[Int]]
  /// The task each entity is allocated to (a slot index), nil when free.
  public private(set) var allocatedSlot: [Int?]
  /// Active tasks by slot; nil when the slot is empty.
  public private(set) var slots: [TaskSpec?]
  /// Steps each slot's task has gone without completing.
  public private(set) var stale: [Int]
  public private(set) var queueCursor = 0
  public private(set) var totalReturn = 0.0
  public private(set) var totalReward = 0.0
  public private(set) var completed = 0

  public init(_ scenario: Scenario) {
    precondition(scenario.kind == .rbf || scenario.kind == .material, "GridEnvironment: \(scenario.kind) is not a grid scenario")
    self.scenario = scenario
    let start = scenario.start.map { $0.map { Int($0) } }
    positions = scenario.entities.map { e in start ?? e.position.map { $0.map { Int($0) } } ?? [0, 0] }
    allocatedSlot = [Int?](repeating: nil, count: scenario.entities.count)
    slots = [TaskSpec?](repeating: nil, count: scenario.taskSlots)
    stale = [Int](repeating: 0, count: scenario.taskSlots)
    refill()
  }

  /// Whether the episode is over (the horizon, or the queue exhausted and every slot done).
  public var isDone: Bool {
    step >= scenario.maxSteps || (queueCursor >= scenario.tasks.count && slots.allSatisfy { $0 == nil })
  }

  /// Every empty slot takes the next queued task, when `step % refillEvery == 0`.
  mutating func refill() {
    guard scenario.refillEvery > 0, step % scenario.refillEvery == 0 else { return }
    for s in slots.indices where slots[s] == nil && queueCursor < scenario.tasks.count {
      slots[s] = scenario.tasks[queueCursor]
      stale[s] = 0
      queueCursor += 1
    }
  }

  /// The static problem of the current decision: free entities and active tasks nobody
  /// is allocated to yet (task index = slot index).
  public var decision: AllocationProblem {
    let taken = Set(allocatedSlot.compactMap { $0 })
    return AllocationProblem(
      entities: scenario.entities,
      tasks: slots.map { $0 ?? TaskSpec(reward: 0, requirement: [Double](repeating: 0, count: scenario.dimensions)) },
      entityAvailable: allocatedSlot.map { $0 == nil },
      taskAvailable: slots.indices.map { slots[$0] != nil && !taken.contains($0) })
  }

  /// Commits an allocation of the current decision (entities to slots).
  public mutating func allocate(_ allocation: Allocation) {
    let problem = decision
    precondition(problem.isFeasible(allocation), "GridEnvironment.allocate: infeasible allocation")
    for (i, slot) in allocation.assignment.enumerated() where slot != nil { allocatedSlot[i] = slot }
  }

  /// One time step: allocated entities move one cell toward their task or work on it;
  /// completions pay out; stale slots decay; slots refill. Returns the step's payoff.
  @discardableResult
  public mutating func advance() -> Double {
    let eightWay = scenario.kind == .material
    // Entities at their task's cell work there; every working entity counts toward each
    // task on its cell.
    var workingAt: [[Int]: [Int]] = [:]
    for i in positions.indices {
      guard let s = allocatedSlot[i], let task = slots[s], let target = task.position.map({ $0.map { Int($0) } }) else {
        continue
      }
      if positions[i] == target {
        workingAt[target, default: []].append(i)
      } else {
        let dx = (target[0] - positions[i][0]).signum()
        let dy = (target[1] - positions[i][1]).signum()
        if eightWay {
          positions[i][0] += dx
          positions[i][1] += dy
        } else if dx != 0 {
          positions[i][0] += dx
        } else {
          positions[i][1] += dy
        }
      }
    }
    var payoff = 0.0
    for s in slots.indices {
      guard let task = slots[s], let cell = task.position.map({ $0.map { Int($0) } }) else { continue }
      let coalition = workingAt[cell] ?? []
      let covered = task.requirement.indices.allSatisfy { k in
        coalition.reduce(0) { $0 + scenario.entities[$1].capability[k] } >= task.requirement[k] - 1e-9
      }
      if !coalition.isEmpty && covered {
        let value = task.reward - coalition.reduce(0) { $0 + scenario.entities[$1].cost }
        payoff += value
        totalReward += task.reward
        completed += 1
        slots[s] = nil
        for i in allocatedSlot.indices where allocatedSlot[i] == s { allocatedSlot[i] = nil }
      } else {
        stale[s] += 1
        if stale[s] > scenario.decayAfterStale && scenario.decayAfterStale > 0 {
          slots[s]!.reward *= scenario.decay
          slots[s]!.requirement = slots[s]!.requirement.map { $0 * scenario.decay }
        }
      }
    }
    totalReturn += payoff
    step += 1
    refill()
    return payoff
  }
}

/// One episode's outcome.
public struct EpisodeResult: Sendable {
  public var totalReturn: Double
  public var totalReward: Double
  public var tasksCompleted: Int
  public var decisions: Int
  /// Mean (exact − allocator) payoff over decisions, when measured.
  public var meanOptimalityGap: Double?
  public var secondsPerDecision: Double
}

/// Plays `allocator` through a full episode of a grid scenario: a decision whenever
/// free entities and unallocated tasks meet, then time steps until the horizon.
/// With `exact`, every decision is also solved exactly to measure the gap.
public func runEpisode(
  _ scenario: Scenario, allocator: inout some Allocator, exact: ExactSolver? = nil
) -> EpisodeResult {
  guard var env = makeEnvironment(scenario) else {
    // One step: the first decision is the whole episode.
    let problem = scenario.firstDecision
    let allocation = allocator.allocate(problem)
    let reward = allocation.completedTasks.reduce(0.0) { $0 + problem.tasks[$1].reward }
    return EpisodeResult(
      totalReturn: problem.payoff(allocation), totalReward: reward, tasksCompleted: allocation.completedTasks.count,
      decisions: 1, meanOptimalityGap: exact.map { $0.solve(problem).value - problem.payoff(allocation) },
      secondsPerDecision: 0)
  }
  var decisions = 0
  var gaps: [Double] = []
  var seconds = 0.0
  while !env.isDone {
    let problem = env.decision
    if problem.taskAvailable.contains(true) && problem.entityAvailable.contains(true) {
      let start = DispatchTime.now().uptimeNanoseconds
      let allocation = allocator.allocate(problem)
      seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      if !allocation.completedTasks.isEmpty {
        decisions += 1
        if let exact {
          let best = exact.solve(problem)
          gaps.append(best.value - problem.payoff(allocation))
        }
        env.allocate(allocation)
      }
    }
    env.advance()
  }
  return EpisodeResult(
    totalReturn: env.totalReturn, totalReward: env.totalReward, tasksCompleted: env.completed, decisions: decisions,
    meanOptimalityGap: gaps.isEmpty ? nil : gaps.reduce(0, +) / Double(gaps.count),
    secondsPerDecision: decisions > 0 ? seconds / Double(decisions) : 0)
}
