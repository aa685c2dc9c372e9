import TensorCore

/// Tasks in a fixed order, each taking its cheapest covering coalition from the entities
/// still free (ties to the more capable coalition), when that coalition's payoff is
/// positive. `sequential` uses index order; `randomOrder` shuffles the order per call.
public struct OrderedAllocator: Allocator {
  public enum Order: Sendable { case index, random(RandomState) }
  public var order: Order
  public var solver = ExactSolver(timeLimit: 5)

  public static var sequential: OrderedAllocator { OrderedAllocator(order: .index) }
  public static func randomOrder(seed: UInt64) -> OrderedAllocator {
    OrderedAllocator(order: .random(RandomState(seed: seed)))
  }

  public var name: String {
    if case .index = order { return "sequential" }
    return "random order"
  }

  public mutating func allocate(_ problem: AllocationProblem) -> Allocation {
    var tasks = problem.tasks.indices.filter { problem.taskAvailable[$0] }
    if case .random(var rng) = order {
      tasks.shuffle(using: &rng)
      order = .random(rng)
    }
    var assignment = [Int?](repeating: nil, count: problem.entities.count)
    for t in tasks {
      let pool = problem.entities.indices.filter {
        problem.entityAvailable[$0] && assignment[$0] == nil
      }
      guard let coalition = solver.cheapestCover(problem, task: t, pool: pool) else { continue }
      let cost = coalition.reduce(0) { $0 + problem.cost($1, t) }
      if problem.tasks[t].reward - cost > 0 { for i in coalition { assignment[i] = t } }
    }
    return problem.normalised(assignment)
  }
}

/// Greedy cover: tasks by decreasing reward; each repeatedly takes the free entity with
/// the lowest cost per unit of the requirement it still lacks, until covered; a task whose
/// coalition would cost its reward or more (or that cannot be covered) is dropped.
public struct GreedyCover: Allocator {
  public init() {}
  public var name: String { "greedy cover" }

  public mutating func allocate(_ problem: AllocationProblem) -> Allocation {
    var assignment = [Int?](repeating: nil, count: problem.entities.count)
    let order = problem.tasks.indices.filter { problem.taskAvailable[$0] }
      .sorted {
        problem.tasks[$0].reward != problem.tasks[$1].reward
          ? problem.tasks[$0].reward > problem.tasks[$1].reward : $0 < $1
      }
    for t in order {
      var missing = problem.tasks[t].requirement
      var coalition: [Int] = []
      var cost = 0.0
      while missing.contains(where: { $0 > 1e-9 }) {
        var best: (Int, Double)? = nil
        for i in problem.entities.indices
        where problem.entityAvailable[i] && assignment[i] == nil && !coalition.contains(i) {
          let covered = zip(problem.entities[i].capability, missing).reduce(0.0) {
            $0 + min($1.0, max($1.1, 0))
          }
          guard covered > 0 else { continue }
          let ratio = problem.cost(i, t) / covered
          if best == nil || ratio < best!.1 { best = (i, ratio) }
        }
        guard let (i, _) = best else { break }
        coalition.append(i)
        cost += problem.cost(i, t)
        for k in missing.indices { missing[k] -= problem.entities[i].capability[k] }
      }
      if !missing.contains(where: { $0 > 1e-9 }) && problem.tasks[t].reward - cost > 0 {
        for i in coalition { assignment[i] = t }
      }
    }
    return problem.normalised(assignment)
  }
}

/// A genetic algorithm (Allot's own settings; the paper gives none): one gene per entity,
/// its task or none; fitness is the static payoff; tournament selection, uniform crossover,
/// per-gene mutation, elitism of one. Assignments to tasks left uncovered are dropped, so
/// the result is always feasible.
public struct GeneticAllocator: Allocator {
  public var population = 60
  public var generations = 150
  public var mutationRate = 0.02
  public var tournament = 3
  public var rng: RandomState

  public init(seed: UInt64, population: Int = 60, generations: Int = 150) {
    rng = RandomState(seed: seed)
    self.population = population
    self.generations = generations
  }

  public var name: String { "genetic" }

  public mutating func allocate(_ problem: AllocationProblem) -> Allocation {
    let tasks = problem.tasks.indices.filter { problem.taskAvailable[$0] }
    let entities = problem.entities.count
    func randomGene(_ i: Int) -> Int? {
      guard problem.entityAvailable[i], !tasks.isEmpty else { return nil }
      let k = rng.nextInt(below: tasks.count + 1)
      return k == tasks.count ? nil : tasks[k]
    }
    func fitness(_ genome: [Int?]) -> Double { problem.payoff(problem.normalised(genome)) }
    var members: [([Int?], Double)] = (0..<population).map { _ in
      let g = (0..<entities).map { randomGene($0) }
      return (g, fitness(g))
    }
    // Seed one member with the greedy solution so the search starts from a sound point.
    var greedy = GreedyCover()
    let seeded = greedy.allocate(problem).assignment
    members[0] = (seeded, fitness(seeded))
    for _ in 0..<generations {
      let elite = members.max { $0.1 < $1.1 }!
      var next = [elite]
      func pick() -> [Int?] {
        var best = members[rng.nextInt(below: members.count)]
        for _ in 1..<tournament {
          let other = members[rng.nextInt(below: members.count)]
          if other.1 > best.1 { best = other }
        }
        return best.0
      }
      while next.count < population {
        let (a, b) = (pick(), pick())
        var child = (0..<entities).map { rng.nextUniform() < 0.5 ? a[$0] : b[$0] }
        for i in 0..<entities where rng.nextDouble() < mutationRate { child[i] = randomGene(i) }
        next.append((child, fitness(child)))
      }
      members = next
    }
    return problem.normalised(members.max { $0.1 < $1.1 }!.0)
  }
}

/// The exact solver as an allocator: each decision starts from the sequential allocation
/// (an incumbent and objective cut) and searches at most `nodeLimit` branch-and-bound
/// nodes, so it is never worse than sequential and usually the per-decision optimum.
public struct BoundedExact: Allocator {
  public var nodeLimit: Int
  public var timeLimit: Double
  /// Where decisions GLPK could not solve exactly are counted (nil: not counted; such a
  /// decision gets the sequential incumbent, as `ExactSolver.solve` falls back).
  public var failures: SolverFailures?

  public init(nodeLimit: Int = 2000, timeLimit: Double = 10, failures: SolverFailures? = nil) {
    self.nodeLimit = nodeLimit
    self.timeLimit = timeLimit
    self.failures = failures
  }

  public var name: String { "exact (bounded)" }

  public mutating func allocate(_ problem: AllocationProblem) -> Allocation {
    var sequential = OrderedAllocator.sequential
    let incumbent = sequential.allocate(problem)
    var solver = ExactSolver(timeLimit: timeLimit, incumbent: incumbent)
    solver.nodeLimit = nodeLimit
    guard let failures else { return solver.solve(problem).allocation }
    do {
      return try solver.checkedSolve(problem).allocation
    } catch {
      failures.record(error)
      return incumbent
    }
  }
}

/// The decisions an exact allocator could not solve exactly (GLPK refused or failed): a
/// caller that reports results as exact checks `count` and names `first`.
public final class SolverFailures: @unchecked Sendable {
  public private(set) var first: Error?
  public private(set) var count = 0

  public init() {}

  func record(_ error: Error) {
    first = first ?? error
    count += 1
  }
}
