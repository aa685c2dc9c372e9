/// One decision's problem in the scale-free form the two-stage network reads: only the
/// available entities and open tasks, capabilities and requirements divided by a
/// per-dimension scale, costs and rewards by the largest open reward. Features are built
/// per capability dimension so that one network serves any number of entities, tasks and
/// dimensions (docs/task-allocation.md, "The two-stage policy").
public struct ProblemFeatures: Sendable {
  public let problem: AllocationProblem
  /// Problem indices of the available entities, in problem order.
  public let entities: [Int]
  /// Problem indices of the open (available) tasks, in problem order.
  public let tasks: [Int]
  /// Per-dimension scale: the largest capability or requirement in that dimension.
  public let scale: [Double]
  /// The largest open reward (1 when none is positive).
  public let valueScale: Double
  /// Entity tokens `[entities × dimensions × 3]`: capability, cost, mean open requirement.
  let entityTokens: [Float]
  /// Task tokens `[tasks × dimensions × 4]`: requirement, reward, mean supply, needed flag.
  let taskTokens: [Float]
  /// Pair features `[entities × tasks × 2]`: cost of i for t, share of t's requirement i covers.
  let pairFeatures: [Float]

  public static let entityTokenWidth = 3
  public static let taskTokenWidth = 4
  public static let pairWidth = 2

  public init(_ problem: AllocationProblem) {
    self.problem = problem
    let entities = problem.entities.indices.filter { problem.entityAvailable[$0] }
    let tasks = problem.tasks.indices.filter { problem.taskAvailable[$0] }
    self.entities = entities
    self.tasks = tasks
    let d = problem.dimensions
    let scale = (0..<d).map { k in
      let supply = entities.map { problem.entities[$0].capability[k] }.max() ?? 0
      let demand = tasks.map { problem.tasks[$0].requirement[k] }.max() ?? 0
      return Swift.max(supply, demand, 1e-9)
    }
    let largestReward = tasks.map { problem.tasks[$0].reward }.max() ?? 0
    let valueScale = largestReward > 0 ? largestReward : 1
    self.scale = scale
    self.valueScale = valueScale
    let meanDemand = (0..<d).map { k in
      tasks.reduce(0.0) { $0 + problem.tasks[$1].requirement[k] } / scale[k]
        / Double(Swift.max(tasks.count, 1))
    }
    let meanSupply = (0..<d).map { k in
      entities.reduce(0.0) { $0 + problem.entities[$1].capability[k] } / scale[k]
        / Double(Swift.max(entities.count, 1))
    }
    /// An entity's cost as the network sees it: its mean over the open tasks.
    func meanCost(_ i: Int) -> Double {
      tasks.isEmpty
        ? problem.entities[i].cost
        : tasks.reduce(0.0) { $0 + problem.cost(i, $1) } / Double(tasks.count)
    }
    var e: [Float] = []
    e.reserveCapacity(entities.count * d * 3)
    for i in entities {
      let c = meanCost(i) / valueScale
      for k in 0..<d {
        e += [Float(problem.entities[i].capability[k] / scale[k]), Float(c), Float(meanDemand[k])]
      }
    }
    entityTokens = e
    var g: [Float] = []
    g.reserveCapacity(tasks.count * d * 4)
    for t in tasks {
      let task = problem.tasks[t]
      for k in 0..<d {
        g += [
          Float(task.requirement[k] / scale[k]), Float(task.reward / valueScale),
          Float(meanSupply[k]), task.requirement[k] > 0 ? 1 : 0,
        ]
      }
    }
    taskTokens = g
    var p: [Float] = []
    p.reserveCapacity(entities.count * tasks.count * 2)
    for i in entities {
      for t in tasks {
        p += [
          Float(problem.cost(i, t) / valueScale),
          Float(Self.coverage(problem.entities[i].capability, of: problem.tasks[t].requirement)),
        ]
      }
    }
    pairFeatures = p
  }

  public var dimensions: Int { problem.dimensions }

  /// The share of `requirement` that `capability` covers: Σ min(a, q) / Σ q (0 for none).
  static func coverage(_ capability: [Double], of requirement: [Double]) -> Double {
    let total = requirement.reduce(0) { $0 + Swift.max($1, 0) }
    guard total > 0 else { return 0 }
    return zip(capability, requirement).reduce(0) { $0 + Swift.min($1.0, Swift.max($1.1, 0)) }
      / total
  }

  /// The stage-2 token of one candidate for one task with `remaining` requirement, per
  /// dimension: capability, remaining, what it would cover, full requirement (all scaled).
  func selectionTokens(candidate i: Int, task t: Int, remaining: [Double]) -> [Float] {
    let a = problem.entities[i].capability
    let q = problem.tasks[t].requirement
    var out: [Float] = []
    out.reserveCapacity(dimensions * 4)
    for k in 0..<dimensions {
      let r = Swift.max(remaining[k], 0)
      out += [
        Float(a[k] / scale[k]), Float(r / scale[k]), Float(Swift.min(a[k], r) / scale[k]),
        Float(q[k] / scale[k]),
      ]
    }
    return out
  }
}
