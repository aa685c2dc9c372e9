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
  public private(set) var tasks: TaskSlots

  public init(_ scenario: Scenario) {
    precondition(
      scenario.kind == .electric,
      "ElectricEnvironment: \(scenario.kind) is not an electric scenario")
    self.scenario = scenario
    allocatedSlot = [Int?](repeating: nil, count: scenario.entities.count)
    tasks = TaskSlots(scenario)
  }

  public var slots: [TaskSpec?] { tasks.slots }
  public var totalReturn: Double { tasks.totalReturn }
  public var totalReward: Double { tasks.totalReward }
  public var completed: Int { tasks.completed }
  public var isDone: Bool { step >= scenario.maxSteps || tasks.exhausted }

  /// The cost of site i supplying `task`.
  public func supplyCost(_ i: Int, _ task: TaskSpec) -> Double {
    guard let site = task.site, let p = scenario.entities[i].position, let q = task.position else {
      return 0
    }
    let distance = ((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1])).squareRoot()
    return (scenario.entities[i].cost + scenario.entities[site].cost) / 2 * distance
  }

  public var decision: AllocationProblem {
    let (list, open) = tasks.decisionTasks(allocated: allocatedSlot)
    let outages = Set(slots.compactMap { $0?.site })
    return AllocationProblem(
      entities: scenario.entities, tasks: list,
      entityAvailable: scenario.entities.indices.map {
        allocatedSlot[$0] == nil && !outages.contains($0)
      },
      taskAvailable: open,
      costs: scenario.entities.indices.map { i in list.map { supplyCost(i, $0) } })
  }

  public mutating func allocate(_ allocation: Allocation) {
    precondition(
      decision.isFeasible(allocation), "ElectricEnvironment.allocate: infeasible allocation")
    for (i, slot) in allocation.assignment.enumerated() where slot != nil {
      allocatedSlot[i] = slot
    }
  }

  @discardableResult
  public mutating func advance() -> Double {
    var payoff = 0.0
    for s in slots.indices {
      guard let task = slots[s] else { continue }
      let suppliers = allocatedSlot.indices.filter { allocatedSlot[$0] == s }
      let capacity = suppliers.reduce(0) { $0 + scenario.entities[$1].capability[0] }
      if !suppliers.isEmpty && capacity >= task.requirement[0] - 1e-9 {
        let value = task.reward - suppliers.reduce(0) { $0 + supplyCost($1, task) }
        payoff += value
        tasks.complete(s, payoff: value)
        for i in suppliers { allocatedSlot[i] = nil }
      } else {
        tasks.age(s)
      }
    }
    step += 1
    tasks.refill(at: step)
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
