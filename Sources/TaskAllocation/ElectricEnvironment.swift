import Foundation

/// The electric environment: sites are both suppliers (capacity = their demand) and
/// possible outages. Outages arrive from the queue into `taskSlots` slots every
/// `refillEvery` steps; a site in outage cannot supply until its outage is repaired. An
/// outage completes one step after suppliers with enough capacity are allocated, paying
/// its reward minus the cost of each supplier i at distance d, (conveyCost_i +
/// conveyCost_outage) / 2 · d. Stale slots decay as in the grid environments.
public struct ElectricEnvironment: AllocationEnvironment {
  public let scenario: Scenario
  public private(set) var step = 0
  public private(set) var allocatedSlot: [Int?]
  public private(set) var slots: [TaskSpec?]
  public private(set) var stale: [Int]
  public private(set) var queueCursor = 0
  public private(set) var totalReturn = 0.0
  public private(set) var totalReward = 0.0
  public private(set) var completed = 0

  public init(_ scenario: Scenario) {
    precondition(scenario.kind == .electric, "ElectricEnvironment: \(scenario.kind) is not an electric scenario")
    self.scenario = scenario
    allocatedSlot = [Int?](repeating: nil, count: scenario.entities.count)
    slots = [TaskSpec?](repeating: nil, count: scenario.taskSlots)
    stale = [Int](repeating: 0, count: scenario.taskSlots)
    refill()
  }

  public var isDone: Bool {
    step >= scenario.maxSteps || (queueCursor >= scenario.tasks.count && slots.allSatisfy { $0 == nil })
  }

  mutating func refill() {
    guard scenario.refillEvery > 0, step % scenario.refillEvery == 0 else { return }
    for s in slots.indices where slots[s] == nil && queueCursor < scenario.tasks.count {
      slots[s] = scenario.tasks[queueCursor]
      stale[s] = 0
      queueCursor += 1
    }
  }

  /// The cost of site i supplying `task`.
  public func supplyCost(_ i: Int, _ task: TaskSpec) -> Double {
    guard let site = task.site, let p = scenario.entities[i].position, let q = task.position else { return 0 }
    let distance = ((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1])).squareRoot()
    return (scenario.entities[i].cost + scenario.entities[site].cost) / 2 * distance
  }

  public var decision: AllocationProblem {
    let taken = Set(allocatedSlot.compactMap { $0 })
    let outages = Set(slots.compactMap { $0?.site })
    let tasks = slots.map { $0 ?? TaskSpec(reward: 0, requirement: [0]) }
    return AllocationProblem(
      entities: scenario.entities, tasks: tasks,
      entityAvailable: scenario.entities.indices.map { allocatedSlot[$0] == nil && !outages.contains($0) },
      taskAvailable: slots.indices.map { slots[$0] != nil && !taken.contains($0) },
      costs: scenario.entities.indices.map { i in tasks.map { supplyCost(i, $0) } })
  }

  public mutating func allocate(_ allocation: Allocation) {
    precondition(decision.isFeasible(allocation), "ElectricEnvironment.allocate: infeasible allocation")
    for (i, slot) in allocation.assignment.enumerated() where slot != nil { allocatedSlot[i] = slot }
  }

  @discardableResult
  public mutating func advance() -> Double {
    var payoff = 0.0
    for s in slots.indices {
      guard let task = slots[s] else { continue }
      let suppliers = allocatedSlot.indices.filter { allocatedSlot[$0] == s }
      let capacity = suppliers.reduce(0) { $0 + scenario.entities[$1].capability[0] }
      if !suppliers.isEmpty && capacity >= task.requirement[0] - 1e-9 {
        payoff += task.reward - suppliers.reduce(0) { $0 + supplyCost($1, task) }
        totalReward += task.reward
        completed += 1
        slots[s] = nil
        for i in suppliers { allocatedSlot[i] = nil }
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

/// A time-stepped allocation environment the episode runner can play.
public protocol AllocationEnvironment {
  var decision: AllocationProblem { get }
  var isDone: Bool { get }
  var totalReturn: Double { get }
  var totalReward: Double { get }
  var completed: Int { get }
  mutating func allocate(_ allocation: Allocation)
  @discardableResult mutating func advance() -> Double
}

/// The environment a scenario describes (one-step scenarios have none: solve
/// `firstDecision` directly).
public func makeEnvironment(_ scenario: Scenario) -> (any AllocationEnvironment)? {
  switch scenario.kind {
  case .rbf, .material: GridEnvironment(scenario)
  case .electric: ElectricEnvironment(scenario)
  case .almighty: nil
  }
}
