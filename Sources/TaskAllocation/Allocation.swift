/// The static allocation problem of one decision: which available entities serve which
/// available tasks. A task is completed when its coalition covers its requirement in
/// every dimension; it then pays its reward minus the coalition's costs.
public struct AllocationProblem: Equatable, Sendable {
  public var entities: [Entity]
  public var tasks: [TaskSpec]
  public var entityAvailable: [Bool]
  public var taskAvailable: [Bool]
  /// Per-(entity, task) costs where they depend on the task (electric: distance); nil uses
  /// each entity's own cost.
  public var costs: [[Double]]?

  public init(
    entities: [Entity], tasks: [TaskSpec], entityAvailable: [Bool]? = nil,
    taskAvailable: [Bool]? = nil, costs: [[Double]]? = nil
  ) {
    self.entities = entities
    self.tasks = tasks
    self.costs = costs
    self.entityAvailable = entityAvailable ?? [Bool](repeating: true, count: entities.count)
    self.taskAvailable = taskAvailable ?? [Bool](repeating: true, count: tasks.count)
  }

  /// What entity i costs when it completes task t.
  public func cost(_ i: Int, _ t: Int) -> Double { costs?[i][t] ?? entities[i].cost }

  public var dimensions: Int {
    tasks.first?.requirement.count ?? entities.first?.capability.count ?? 0
  }

  /// Whether `members` together cover task t's requirement.
  public func covers(_ t: Int, _ members: [Int]) -> Bool {
    (0..<dimensions).allSatisfy { k in
      members.reduce(0) { $0 + entities[$1].capability[k] } >= tasks[t].requirement[k] - 1e-9
    }
  }

  /// The allocation with assignments to uncovered tasks dropped (they would pay nothing).
  public func normalised(_ assignment: [Int?]) -> Allocation {
    var coalitions = [[Int]](repeating: [], count: tasks.count)
    for (i, t) in assignment.enumerated() {
      if let t { coalitions[t].append(i) }
    }
    var out = [Int?](repeating: nil, count: entities.count)
    for t in tasks.indices where !coalitions[t].isEmpty && covers(t, coalitions[t]) {
      for i in coalitions[t] { out[i] = t }
    }
    return Allocation(assignment: out)
  }

  /// The payoff of an allocation: Σ over completed tasks of reward − coalition cost.
  public func payoff(_ allocation: Allocation) -> Double {
    var coalitions = [[Int]](repeating: [], count: tasks.count)
    for (i, t) in allocation.assignment.enumerated() {
      if let t { coalitions[t].append(i) }
    }
    return tasks.indices.reduce(0.0) { total, t in
      coalitions[t].isEmpty || !covers(t, coalitions[t])
        ? total : total + tasks[t].reward - coalitions[t].reduce(0) { $0 + cost($1, t) }
    }
  }

  /// Whether an allocation respects availability, serves one task per entity at most,
  /// and completes every task it assigns anyone to.
  public func isFeasible(_ allocation: Allocation) -> Bool {
    guard allocation.assignment.count == entities.count else { return false }
    var coalitions = [[Int]](repeating: [], count: tasks.count)
    for (i, t) in allocation.assignment.enumerated() {
      guard let t else { continue }
      guard t >= 0 && t < tasks.count, entityAvailable[i], taskAvailable[t] else { return false }
      coalitions[t].append(i)
    }
    return tasks.indices.allSatisfy { coalitions[$0].isEmpty || covers($0, coalitions[$0]) }
  }
}

/// Which task each entity serves (nil: none).
public struct Allocation: Equatable, Sendable {
  public var assignment: [Int?]

  public init(assignment: [Int?]) { self.assignment = assignment }

  /// The tasks with a coalition.
  public var completedTasks: Set<Int> { Set(assignment.compactMap { $0 }) }
}

/// Anything that decides an allocation for a static problem: the baselines here, and
/// later learned policies.
public protocol Allocator {
  var name: String { get }
  mutating func allocate(_ problem: AllocationProblem) -> Allocation
}
