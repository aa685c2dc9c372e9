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
  public private(set) var tasks: TaskSlots

  public init(_ scenario: Scenario) {
    precondition(
      scenario.kind == .rbf || scenario.kind == .material,
      "GridEnvironment: \(scenario.kind) is not a grid scenario")
    self.scenario = scenario
    let start = scenario.start.map { $0.map { Int($0) } }
    positions = scenario.entities.map { e in
      start ?? e.position.map { $0.map { Int($0) } } ?? [0, 0]
    }
    allocatedSlot = [Int?](repeating: nil, count: scenario.entities.count)
    tasks = TaskSlots(scenario)
  }

  /// Active tasks by slot; nil when the slot is empty.
  public var slots: [TaskSpec?] { tasks.slots }
  public var queueCursor: Int { tasks.queueCursor }
  public var totalReturn: Double { tasks.totalReturn }
  public var totalReward: Double { tasks.totalReward }
  public var completed: Int { tasks.completed }

  /// Whether the episode is over (the horizon, or the queue exhausted and every slot done).
  public var isDone: Bool { step >= scenario.maxSteps || tasks.exhausted }

  /// The static problem of the current decision: free entities and active tasks nobody
  /// is allocated to yet (task index = slot index).
  public var decision: AllocationProblem {
    let (list, open) = tasks.decisionTasks(allocated: allocatedSlot)
    return AllocationProblem(
      entities: scenario.entities, tasks: list, entityAvailable: allocatedSlot.map { $0 == nil },
      taskAvailable: open)
  }

  /// Commits an allocation of the current decision (entities to slots).
  public mutating func allocate(_ allocation: Allocation) {
    precondition(decision.isFeasible(allocation), "GridEnvironment.allocate: infeasible allocation")
    for (i, slot) in allocation.assignment.enumerated() where slot != nil {
      allocatedSlot[i] = slot
    }
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
      guard let s = allocatedSlot[i], let task = slots[s],
        let target = task.position.map({ $0.map { Int($0) } })
      else {
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
      guard let task = slots[s], let cell = task.position.map({ $0.map { Int($0) } }) else {
        continue
      }
      let coalition = workingAt[cell] ?? []
      let covered = task.requirement.indices.allSatisfy { k in
        coalition.reduce(0) { $0 + scenario.entities[$1].capability[k] } >= task.requirement[k]
          - 1e-9
      }
      if !coalition.isEmpty && covered {
        let value = task.reward - coalition.reduce(0) { $0 + scenario.entities[$1].cost }
        payoff += value
        tasks.complete(s, payoff: value)
        for i in allocatedSlot.indices where allocatedSlot[i] == s { allocatedSlot[i] = nil }
      } else {
        tasks.age(s)
      }
    }
    step += 1
    tasks.refill(at: step)
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
/// With `exact`, every decision is also solved exactly to measure the gap; `onDecision`
/// sees every decision's problem and the allocation made.
public func runEpisode(
  _ scenario: Scenario, allocator: inout some Allocator, exact: ExactSolver? = nil,
  onDecision: ((AllocationProblem, Allocation) -> Void)? = nil
) -> EpisodeResult {
  guard var env = makeEnvironment(scenario) else {
    // One step: the first decision is the whole episode.
    let problem = scenario.firstDecision
    let start = DispatchTime.now().uptimeNanoseconds
    let allocation = allocator.allocate(problem)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    onDecision?(problem, allocation)
    let reward = allocation.completedTasks.reduce(0.0) { $0 + problem.tasks[$1].reward }
    return EpisodeResult(
      totalReturn: problem.payoff(allocation), totalReward: reward,
      tasksCompleted: allocation.completedTasks.count,
      decisions: 1,
      meanOptimalityGap: exact.map { $0.solve(problem).value - problem.payoff(allocation) },
      secondsPerDecision: seconds)
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
      onDecision?(problem, allocation)
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
    totalReturn: env.totalReturn, totalReward: env.totalReward, tasksCompleted: env.completed,
    decisions: decisions,
    meanOptimalityGap: gaps.isEmpty ? nil : gaps.reduce(0, +) / Double(gaps.count),
    secondsPerDecision: decisions > 0 ? seconds / Double(decisions) : 0)
}
