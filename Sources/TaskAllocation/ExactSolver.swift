import CGLPK
import Foundation

/// A problem the exact solver cannot take, or a failure GLPK reported.
public struct ExactSolverError: Error, CustomStringConvertible, Equatable {
  public var message: String
  public var description: String { "exact solver: \(message)" }
}

/// Subproblems explored, and where to stop.
struct SearchLimit {
  var nodes: Int
  var limit: Int
}

/// The exact static optimum of one decision, as the integer program of the spec, solved
/// with GLPK's branch and cut:
///
///     max Σ_t R_t y_t − Σ_{i,t} c_i x_it
///     s.t. Σ_i a_ik x_it ≥ q_tk y_t  (every task t, dimension k);  Σ_t x_it ≤ 1;  x, y binary
public struct ExactSolver: Allocator {
  /// GLPK's time limit per solve, in seconds.
  public var timeLimit: Double
  /// An allocation a heuristic already found: the search only looks for better ones (a
  /// cut on the objective, which prunes much of the tree) and returns it when it finds
  /// none within its limits.
  public var incumbent: Allocation?
  /// GLPK branching and backtracking choices (for experiments).
  public var branching: Int32 = GLP_BR_PCH
  public var backtracking: Int32 = GLP_BT_BLB
  /// Stop after this many branch-and-bound subproblems (a machine-independent limit, for
  /// reproducible results); nil: only the time limit.
  public var nodeLimit: Int?

  public init(timeLimit: Double = 10, incumbent: Allocation? = nil) {
    self.timeLimit = timeLimit
    self.incumbent = incumbent
  }

  public var name: String { "exact" }

  /// A solve's outcome: the best allocation found, its value, whether it is proven optimal,
  /// and an upper bound (the LP relaxation when the time limit stopped the search).
  public struct Result: Sendable {
    public var allocation: Allocation
    public var value: Double
    public var optimal: Bool
    public var bound: Double
  }

  public mutating func allocate(_ problem: AllocationProblem) -> Allocation {
    solve(problem).allocation
  }

  /// The largest magnitude of a coefficient handed to GLPK: beyond it its simplex loses
  /// precision or aborts the process.
  public static let coefficientLimit = 1e9

  /// Refuses a problem GLPK cannot be trusted with: a non-finite or huge cost, reward,
  /// capability or requirement, naming the first one.
  public static func check(_ problem: AllocationProblem) throws {
    func bad(_ x: Double) -> Bool { !x.isFinite || abs(x) > coefficientLimit }
    for (i, entity) in problem.entities.enumerated() {
      if let d = entity.capability.firstIndex(where: bad) {
        throw ExactSolverError(
          message: "entity \(i) has capability \(entity.capability[d]) in dimension \(d)")
      }
      for t in problem.tasks.indices where bad(problem.cost(i, t)) {
        throw ExactSolverError(
          message:
            "entity \(i) costs \(problem.cost(i, t)) for task \(t) (positions too far apart?)")
      }
    }
    for (t, task) in problem.tasks.enumerated() {
      if bad(task.reward) { throw ExactSolverError(message: "task \(t) has reward \(task.reward)") }
      if let d = task.requirement.firstIndex(where: bad) {
        throw ExactSolverError(
          message: "task \(t) requires \(task.requirement[d]) in dimension \(d)")
      }
    }
  }

  /// `solve`, with a problem GLPK cannot take (see `check`) or a failure GLPK reports
  /// turned into a thrown error instead of a fallback.
  public func checkedSolve(_ problem: AllocationProblem) throws -> Result {
    try Self.check(problem)
    var failure: ExactSolverError?
    let result = solve(problem, failure: &failure)
    if let failure { throw failure }
    return result
  }

  /// The best allocation GLPK finds within the limits. A problem it cannot take (see
  /// `check`) or a GLPK failure gives the incumbent (or no assignment), marked not optimal;
  /// `checkedSolve` reports those as errors instead.
  public func solve(_ problem: AllocationProblem) -> Result {
    var failure: ExactSolverError?
    return solve(problem, failure: &failure)
  }

  private func solve(_ problem: AllocationProblem, failure: inout ExactSolverError?) -> Result {
    let entities = problem.entities.indices.filter { problem.entityAvailable[$0] }
    let tasks = problem.tasks.indices.filter { problem.taskAvailable[$0] }
    let empty = Allocation(assignment: [Int?](repeating: nil, count: problem.entities.count))
    guard !entities.isEmpty, !tasks.isEmpty else {
      return Result(allocation: empty, value: 0, optimal: true, bound: 0)
    }
    let fallback =
      incumbent.flatMap { problem.isFeasible($0) ? $0 : nil }.map {
        Result(allocation: $0, value: problem.payoff($0), optimal: false, bound: .infinity)
      } ?? Result(allocation: empty, value: 0, optimal: false, bound: .infinity)
    do { try Self.check(problem) } catch let error as ExactSolverError {
      failure = error
      return fallback
    } catch {}
    glp_term_out(0)
    let lp = glp_create_prob()!
    defer { glp_delete_prob(lp) }
    glp_set_obj_dir(lp, GLP_MAX)
    // Columns: x_it for (entity, task) pairs, then y_t.
    let pairs = entities.flatMap { i in tasks.map { (i, $0) } }
    let columns = pairs.count + tasks.count
    glp_add_cols(lp, Int32(columns))
    for (c, (i, t)) in pairs.enumerated() {
      glp_set_col_kind(lp, Int32(c + 1), GLP_BV)
      glp_set_obj_coef(lp, Int32(c + 1), -problem.cost(i, t))
    }
    for (k, t) in tasks.enumerated() {
      glp_set_col_kind(lp, Int32(pairs.count + k + 1), GLP_BV)
      glp_set_obj_coef(lp, Int32(pairs.count + k + 1), problem.tasks[t].reward)
    }
    var ia: [Int32] = [0]
    var ja: [Int32] = [0]
    var ar: [Double] = [0]
    var row: Int32 = 0
    // Coverage: Σ_i a_ik x_it − q_tk y_t ≥ 0.
    for (k, t) in tasks.enumerated() {
      for d in 0..<problem.dimensions where problem.tasks[t].requirement[d] > 0 {
        row = glp_add_rows(lp, 1)
        glp_set_row_bnds(lp, row, GLP_LO, 0, 0)
        for (c, (i, tt)) in pairs.enumerated()
        where tt == t && problem.entities[i].capability[d] > 0 {
          ia.append(row)
          ja.append(Int32(c + 1))
          ar.append(problem.entities[i].capability[d])
        }
        ia.append(row)
        ja.append(Int32(pairs.count + k + 1))
        ar.append(-problem.tasks[t].requirement[d])
      }
    }
    // A task needs at least one entity (y_t ≤ Σ_i x_it), and an entity can only join a
    // completed task (x_it ≤ y_t: redundant for the optimum, but it tightens the LP bound).
    for (k, t) in tasks.enumerated() {
      row = glp_add_rows(lp, 1)
      glp_set_row_bnds(lp, row, GLP_LO, 0, 0)
      for (c, (_, tt)) in pairs.enumerated() where tt == t {
        ia.append(row)
        ja.append(Int32(c + 1))
        ar.append(1)
        let link = glp_add_rows(lp, 1)
        glp_set_row_bnds(lp, link, GLP_UP, 0, 0)
        ia.append(link)
        ja.append(Int32(c + 1))
        ar.append(1)
        ia.append(link)
        ja.append(Int32(pairs.count + k + 1))
        ar.append(-1)
      }
      ia.append(row)
      ja.append(Int32(pairs.count + k + 1))
      ar.append(-1)
    }
    // Objective cut: Σ R y − Σ c x ≥ incumbent.
    let incumbentValue = incumbent.map { problem.payoff($0) }
    if let incumbentValue {
      row = glp_add_rows(lp, 1)
      glp_set_row_bnds(lp, row, GLP_LO, incumbentValue - 1e-7, 0)
      for (c, (i, t)) in pairs.enumerated() where problem.cost(i, t) != 0 {
        ia.append(row)
        ja.append(Int32(c + 1))
        ar.append(-problem.cost(i, t))
      }
      for (k, t) in tasks.enumerated() {
        ia.append(row)
        ja.append(Int32(pairs.count + k + 1))
        ar.append(problem.tasks[t].reward)
      }
    }
    // One task per entity.
    for i in entities {
      row = glp_add_rows(lp, 1)
      glp_set_row_bnds(lp, row, GLP_UP, 0, 1)
      for (c, (e, _)) in pairs.enumerated() where e == i {
        ia.append(row)
        ja.append(Int32(c + 1))
        ar.append(1)
      }
    }
    glp_load_matrix(lp, Int32(ia.count - 1), ia, ja, ar)
    var simplex = glp_smcp()
    glp_init_smcp(&simplex)
    simplex.msg_lev = GLP_MSG_OFF
    let simplexStatus = glp_simplex(lp, &simplex)
    guard simplexStatus == 0 || simplexStatus == GLP_ETMLIM || simplexStatus == GLP_EITLIM else {
      failure = ExactSolverError(
        message: "GLPK's simplex failed (code \(simplexStatus)) on \(entities.count) entities "
          + "and \(tasks.count) tasks")
      return fallback
    }
    let relaxation = glp_get_obj_val(lp)
    if let incumbent, let incumbentValue, problem.isFeasible(incumbent),
      glp_get_status(lp) == GLP_NOFEAS || relaxation <= incumbentValue + 1e-9
    {
      // Even the relaxation cannot beat the incumbent: it is optimal.
      return Result(
        allocation: incumbent, value: incumbentValue, optimal: true, bound: incumbentValue)
    }
    var parameters = glp_iocp()
    glp_init_iocp(&parameters)
    parameters.msg_lev = GLP_MSG_OFF
    parameters.tm_lim = Int32(min(timeLimit * 1000, Double(Int32.max)))
    parameters.mir_cuts = GLP_ON
    parameters.cov_cuts = GLP_ON
    parameters.gmi_cuts = GLP_ON
    parameters.clq_cuts = GLP_ON
    parameters.br_tech = branching
    parameters.bt_tech = backtracking
    parameters.fp_heur = GLP_ON
    parameters.presolve = GLP_OFF
    var limit = SearchLimit(nodes: 0, limit: nodeLimit ?? Int.max)
    let status = withUnsafeMutablePointer(to: &limit) { pointer -> Int32 in
      parameters.cb_info = UnsafeMutableRawPointer(pointer)
      parameters.cb_func = { tree, info in
        guard let tree, let info, glp_ios_reason(tree) == GLP_ISELECT else { return }
        let limit = info.assumingMemoryBound(to: SearchLimit.self)
        limit.pointee.nodes += 1
        if limit.pointee.nodes > limit.pointee.limit { glp_ios_terminate(tree) }
      }
      return glp_intopt(lp, &parameters)
    }
    let mipStatus = glp_mip_status(lp)
    let acceptable: Set<Int32> = [0, GLP_ETMLIM, GLP_ESTOP, GLP_ENOPFS, GLP_ENODFS, GLP_EMIPGAP]
    if !acceptable.contains(status) {
      failure = ExactSolverError(
        message: "GLPK's branch and cut failed (code \(status)) on \(entities.count) entities "
          + "and \(tasks.count) tasks")
      if mipStatus != GLP_OPT && mipStatus != GLP_FEAS { return fallback }
    }
    guard mipStatus == GLP_OPT || mipStatus == GLP_FEAS else {
      // No allocation better than the incumbent: it is optimal if the search finished.
      if let incumbent, let incumbentValue, problem.isFeasible(incumbent) {
        // Proven when the search ended on its own with nothing better, or the relaxation
        // with the cut is already infeasible.
        let proven = (status == 0 && mipStatus == GLP_NOFEAS) || status == GLP_ENOPFS
        return Result(
          allocation: incumbent, value: incumbentValue, optimal: proven,
          bound: proven ? incumbentValue : max(relaxation, incumbentValue))
      }
      return Result(allocation: empty, value: 0, optimal: false, bound: relaxation)
    }
    var assignment = [Int?](repeating: nil, count: problem.entities.count)
    for (c, (i, t)) in pairs.enumerated() where glp_mip_col_val(lp, Int32(c + 1)) > 0.5 {
      assignment[i] = t
    }
    let allocation = problem.normalised(assignment)
    let optimal =
      (status == 0 && mipStatus == GLP_OPT) || relaxation <= problem.payoff(allocation) + 1e-9
    let value = problem.payoff(allocation)
    return Result(
      allocation: allocation, value: value, optimal: optimal, bound: optimal ? value : relaxation)
  }

  /// The cheapest coalition covering task t from `pool`, and among the cheapest the one
  /// with the most total capability; nil when the pool cannot cover the task.
  public func cheapestCover(_ problem: AllocationProblem, task t: Int, pool: [Int]) -> [Int]? {
    guard !pool.isEmpty else { return nil }
    guard let cheapest = coverSolve(problem, task: t, pool: pool, costCap: nil) else { return nil }
    let cost = cheapest.reduce(0) { $0 + problem.cost($1, t) }
    return coverSolve(problem, task: t, pool: pool, costCap: cost) ?? cheapest
  }

  /// Without `costCap`: minimise cost. With it: maximise total capability at cost ≤ cap.
  private func coverSolve(_ problem: AllocationProblem, task t: Int, pool: [Int], costCap: Double?)
    -> [Int]?
  {
    glp_term_out(0)
    let lp = glp_create_prob()!
    defer { glp_delete_prob(lp) }
    glp_set_obj_dir(lp, costCap == nil ? GLP_MIN : GLP_MAX)
    glp_add_cols(lp, Int32(pool.count))
    for (c, i) in pool.enumerated() {
      glp_set_col_kind(lp, Int32(c + 1), GLP_BV)
      let e = problem.entities[i]
      glp_set_obj_coef(
        lp, Int32(c + 1), costCap == nil ? problem.cost(i, t) : e.capability.reduce(0, +))
    }
    var ia: [Int32] = [0]
    var ja: [Int32] = [0]
    var ar: [Double] = [0]
    for d in 0..<problem.dimensions where problem.tasks[t].requirement[d] > 0 {
      let row = glp_add_rows(lp, 1)
      glp_set_row_bnds(lp, row, GLP_LO, problem.tasks[t].requirement[d], 0)
      for (c, i) in pool.enumerated() where problem.entities[i].capability[d] > 0 {
        ia.append(row)
        ja.append(Int32(c + 1))
        ar.append(problem.entities[i].capability[d])
      }
    }
    // At least one entity, even for a requirement of zero.
    let any = glp_add_rows(lp, 1)
    glp_set_row_bnds(lp, any, GLP_LO, 1, 0)
    for c in pool.indices {
      ia.append(any)
      ja.append(Int32(c + 1))
      ar.append(1)
    }
    if let costCap {
      let row = glp_add_rows(lp, 1)
      glp_set_row_bnds(lp, row, GLP_UP, 0, costCap + 1e-9)
      for (c, i) in pool.enumerated() {
        ia.append(row)
        ja.append(Int32(c + 1))
        ar.append(problem.cost(i, t))
      }
    }
    glp_load_matrix(lp, Int32(ia.count - 1), ia, ja, ar)
    var parameters = glp_iocp()
    glp_init_iocp(&parameters)
    parameters.msg_lev = GLP_MSG_OFF
    parameters.presolve = GLP_ON
    parameters.tm_lim = Int32(min(timeLimit * 1000, Double(Int32.max)))
    _ = glp_intopt(lp, &parameters)
    let status = glp_mip_status(lp)
    guard status == GLP_OPT || status == GLP_FEAS else { return nil }
    let chosen = pool.enumerated().filter { glp_mip_col_val(lp, Int32($0.offset + 1)) > 0.5 }.map(
      \.element)
    return problem.covers(t, chosen) ? chosen : nil
  }
}
