import Foundation
import TensorCore

/// One entity: its cost when it completes a task, its capability per dimension, and (in
/// grid and map environments) its position.
public struct Entity: Equatable, Sendable {
  public var cost: Double
  public var capability: [Double]
  public var position: [Double]?

  public init(cost: Double, capability: [Double], position: [Double]? = nil) {
    self.cost = cost
    self.capability = capability
    self.position = position
  }
}

/// One task: its reward and requirement per dimension, and (where it has one) its position.
public struct TaskSpec: Equatable, Sendable {
  public var reward: Double
  public var requirement: [Double]
  public var position: [Double]?
  /// Electric: the site in outage (unavailable as a supplier until the task completes).
  public var site: Int?

  public init(reward: Double, requirement: [Double], position: [Double]? = nil, site: Int? = nil) {
    self.reward = reward
    self.requirement = requirement
    self.position = position
    self.site = site
  }
}

/// The environment families of the spec.
public enum EnvironmentKind: String, Sendable, CaseIterable {
  case almighty, rbf, electric, material
}

/// A task-allocation scenario: the entity table, the task queue and the environment's
/// settings. Read from the data files of the spec (`Experiments/scenarios/*.json`).
public struct Scenario: Equatable, Sendable {
  public var name: String
  public var kind: EnvironmentKind
  public var entities: [Entity]
  /// The task queue (all tasks at once for one-step scenarios).
  public var tasks: [TaskSpec]
  /// Active task slots (one-step scenarios: every task).
  public var taskSlots: Int
  public var refillEvery: Int
  public var maxSteps: Int
  public var decay: Double
  public var decayAfterStale: Int
  /// Grid or map side length (rbf: 7; material: 100); nil without one.
  public var gridSize: Int?
  /// Where entities start on a grid.
  public var start: [Double]?

  public init(
    name: String, kind: EnvironmentKind, entities: [Entity], tasks: [TaskSpec], taskSlots: Int,
    refillEvery: Int,
    maxSteps: Int, decay: Double, decayAfterStale: Int, gridSize: Int?, start: [Double]?
  ) {
    self.name = name
    self.kind = kind
    self.entities = entities
    self.tasks = tasks
    self.taskSlots = taskSlots
    self.refillEvery = refillEvery
    self.maxSteps = maxSteps
    self.decay = decay
    self.decayAfterStale = decayAfterStale
    self.gridSize = gridSize
    self.start = start
  }

  /// Capability dimensions.
  public var dimensions: Int { entities.first?.capability.count ?? 0 }

  /// The static problem of the first decision: the first `taskSlots` queued tasks, every
  /// entity available.
  public var firstDecision: AllocationProblem {
    AllocationProblem(entities: entities, tasks: Array(tasks.prefix(taskSlots)))
  }
}

/// A scenario file that cannot be used, naming the file, the field and the index.
public struct ScenarioError: Error, CustomStringConvertible, Equatable {
  public var file: String
  public var message: String
  public var description: String { "\(file): \(message)" }
}

extension Scenario {
  /// Reads a scenario file. `base` supplies the fields a variant file leaves out (the
  /// spec's rbf-100 has only its entity table; rbf-alt-tasks only its queue).
  public static func load(_ path: String, base: Scenario? = nil) throws -> Scenario {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ScenarioError(file: path, message: "cannot read the file")
    }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ScenarioError(file: path, message: "is not a JSON object")
    }
    return try ScenarioReader(file: path, root: root).scenario(base: base)
  }
}

/// Field-by-field reading with errors that name the field and index.
struct ScenarioReader {
  let file: String
  let root: [String: Any]

  func fail(_ message: String) -> ScenarioError { ScenarioError(file: file, message: message) }

  func number(_ value: Any?, _ field: String) throws -> Double {
    guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else {
      throw fail("\(field): expected a number, got \(describe(value))")
    }
    return n.doubleValue
  }

  func numbers(_ value: Any?, _ field: String, count: Int? = nil) throws -> [Double] {
    guard let array = value as? [Any] else {
      throw fail("\(field): expected an array of numbers, got \(describe(value))")
    }
    if let count, array.count != count {
      throw fail("\(field): expected \(count) numbers, got \(array.count)")
    }
    return try array.enumerated().map { try number($1, "\(field)[\($0)]") }
  }

  func integer(_ key: String, default fallback: Int? = nil) throws -> Int {
    guard let value = root[key] else {
      if let fallback { return fallback }
      throw fail("\(key): missing")
    }
    let x = try number(value, key)
    guard x.rounded() == x, x >= 0 else {
      throw fail("\(key): expected a whole number ≥ 0, got \(x)")
    }
    return Int(x)
  }

  func describe(_ value: Any?) -> String {
    switch value {
    case nil: "nothing"
    case let s as String: String(reflecting: s)
    case is [Any]: "an array"
    case is [String: Any]: "an object"
    case let n as NSNumber: String(cString: n.objCType) == "c" ? "a boolean" : "\(n)"
    default: "\(value!)"
    }
  }

  func entities(_ key: String, dimensions: Int?) throws -> [Entity] {
    guard let list = root[key] as? [Any] else {
      throw fail("\(key): expected an array of entities")
    }
    var out: [Entity] = []
    var d = dimensions
    for (i, item) in list.enumerated() {
      guard let e = item as? [String: Any] else { throw fail("\(key)[\(i)]: expected an object") }
      let cost = try number(e["cost"], "\(key)[\(i)].cost")
      if cost < 0 { throw fail("\(key)[\(i)].cost: must be ≥ 0, got \(cost)") }
      let capability = try numbers(e["capability"], "\(key)[\(i)].capability", count: d)
      d = capability.count
      if capability.contains(where: { $0 < 0 }) {
        throw fail("\(key)[\(i)].capability: values must be ≥ 0")
      }
      let position = try e["position"].map { try numbers($0, "\(key)[\(i)].position", count: 2) }
      out.append(Entity(cost: cost, capability: capability, position: position))
    }
    if out.isEmpty { throw fail("\(key): needs at least one entity") }
    return out
  }

  func tasks(_ key: String, dimensions: Int) throws -> [TaskSpec] {
    guard let list = root[key] as? [Any] else { throw fail("\(key): expected an array of tasks") }
    return try list.enumerated().map { i, item in
      guard let t = item as? [String: Any] else { throw fail("\(key)[\(i)]: expected an object") }
      let reward = try number(t["reward"], "\(key)[\(i)].reward")
      let requirement = try numbers(t["requirement"], "\(key)[\(i)].requirement", count: dimensions)
      let position = try t["position"].map { try numbers($0, "\(key)[\(i)].position", count: 2) }
      return TaskSpec(reward: reward, requirement: requirement, position: position)
    }
  }

  func scenario(base: Scenario?) throws -> Scenario {
    let name =
      root["name"] as? String
      ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    if root["sites"] != nil || base?.kind == .electric {
      return try electric(name: name, base: base)
    }
    if root["oneStep"] as? Bool == true {
      let entities = try self.entities("entities", dimensions: nil)
      let tasks = try self.tasks("tasks", dimensions: entities[0].capability.count)
      return Scenario(
        name: name, kind: .almighty, entities: entities, tasks: tasks, taskSlots: tasks.count,
        refillEvery: 0,
        maxSteps: 1, decay: 1, decayAfterStale: 0, gridSize: nil, start: nil)
    }
    let kind: EnvironmentKind = root["map"] != nil || base?.kind == .material ? .material : .rbf
    let entities =
      root["entities"] != nil
      ? try self.entities("entities", dimensions: base?.dimensions) : base?.entities
    guard let entities else { throw fail("entities: missing (and no base scenario supplies them)") }
    let queue =
      root["taskQueue"] != nil
      ? try tasks("taskQueue", dimensions: entities[0].capability.count) : base?.tasks
    guard let queue else { throw fail("taskQueue: missing (and no base scenario supplies it)") }
    let grid =
      kind == .material
      ? try integer("map", default: base?.gridSize) : try integer("grid", default: base?.gridSize)
    var start = base?.start
    if root["start"] != nil { start = try numbers(root["start"], "start", count: 2) }
    for (i, t) in queue.enumerated() {
      guard let p = t.position else { throw fail("taskQueue[\(i)].position: missing") }
      if p.contains(where: { $0 < 0 || $0 >= Double(grid) }) {
        throw fail("taskQueue[\(i)].position: \(p) lies outside the \(grid)×\(grid) grid")
      }
    }
    return Scenario(
      name: name, kind: kind, entities: entities, tasks: queue,
      taskSlots: try integer("taskSlots", default: base?.taskSlots ?? 5),
      refillEvery: try integer("refillEvery", default: base?.refillEvery ?? 5),
      maxSteps: try integer("maxSteps", default: base?.maxSteps ?? (kind == .material ? 150 : 100)),
      decay: try root["decay"].map { try number($0, "decay") } ?? base?.decay ?? 1,
      decayAfterStale: try integer("decayAfterStale", default: base?.decayAfterStale ?? 10),
      gridSize: grid, start: start)
  }

  /// Electric: sites are suppliers (capability = demand) and possible outages (tasks).
  func electric(name: String, base: Scenario?) throws -> Scenario {
    guard let sites = root["sites"] as? [Any] else {
      throw fail("sites: expected an array of sites")
    }
    let convey =
      root["conveyCost"] != nil
      ? try numbers(root["conveyCost"], "conveyCost", count: sites.count)
      : base?.entities.map(\.cost)
    guard let convey, convey.count == sites.count else {
      throw fail("conveyCost: expected \(sites.count) numbers")
    }
    var entities: [Entity] = []
    var siteTasks: [TaskSpec] = []
    for (i, item) in sites.enumerated() {
      guard let s = item as? [String: Any] else { throw fail("sites[\(i)]: expected an object") }
      let reward = try number(s["reward"], "sites[\(i)].reward")
      let demand = try number(s["demand"], "sites[\(i)].demand")
      let position = try numbers(s["position"], "sites[\(i)].position", count: 2)
      entities.append(Entity(cost: convey[i], capability: [demand], position: position))
      siteTasks.append(TaskSpec(reward: reward, requirement: [demand], position: position, site: i))
    }
    var queue: [TaskSpec]
    if let ids = root["taskQueue"] as? [Any] {
      queue = try ids.enumerated().map { k, id in
        let x = try number(id, "taskQueue[\(k)]")
        guard x.rounded() == x, x >= 0, Int(x) < sites.count else {
          throw fail("taskQueue[\(k)]: site \(x) is not one of the \(sites.count) sites")
        }
        return siteTasks[Int(x)]
      }
    } else if let base {
      queue = base.tasks.map { siteTasks[$0.site!] }
    } else {
      throw fail("taskQueue: missing")
    }
    return Scenario(
      name: name, kind: .electric, entities: entities, tasks: queue,
      taskSlots: try integer("taskSlots", default: base?.taskSlots ?? 5),
      refillEvery: try integer("refillEvery", default: base?.refillEvery ?? 5),
      maxSteps: try integer("maxSteps", default: base?.maxSteps ?? 100),
      decay: try root["decay"].map { try number($0, "decay") } ?? base?.decay ?? 0.9,
      decayAfterStale: try integer("decayAfterStale", default: base?.decayAfterStale ?? 10),
      gridSize: nil, start: nil)
  }
}

extension Scenario {
  /// A random grid scenario of any size, reproducible from `seed`: entity costs in
  /// [0.1, 1), capabilities 1…6 per dimension; task requirements that need several
  /// entities (≈ 1.5·entities/tasks·3.5 per dimension, capped), rewards in proportion to
  /// the requirement; positions anywhere on the grid.
  public static func random(
    entities: Int, tasks: Int, dimensions: Int, seed: UInt64, gridSize: Int = 7, taskSlots: Int = 5
  ) -> Scenario {
    precondition(
      entities > 0 && tasks > 0 && dimensions > 0 && gridSize > 0,
      "Scenario.random: sizes must be positive")
    var rng = RandomState(seed: seed)
    let table = (0..<entities).map { _ in
      Entity(
        cost: (0.1 + 0.9 * rng.nextDouble() * 10).rounded() / 10,
        capability: (0..<dimensions).map { _ in Double(1 + rng.nextInt(below: 6)) })
    }
    let perTask = max(2.0, min(10.0, Double(entities) / Double(min(tasks, taskSlots)) / 2))
    let queue = (0..<tasks).map { _ -> TaskSpec in
      let requirement = (0..<dimensions).map { _ in
        (perTask * 3.5 * (0.5 + rng.nextDouble())).rounded()
      }
      return TaskSpec(
        reward: (requirement.reduce(0, +) / Double(dimensions) / 8).rounded(),
        requirement: requirement,
        position: [Double(rng.nextInt(below: gridSize)), Double(rng.nextInt(below: gridSize))])
    }
    return Scenario(
      name: "random-\(entities)x\(tasks)x\(dimensions)-seed\(seed)", kind: .rbf, entities: table,
      tasks: queue,
      taskSlots: taskSlots, refillEvery: 5, maxSteps: 100, decay: 0.99, decayAfterStale: 10,
      gridSize: gridSize,
      start: [Double(gridSize / 2), Double(gridSize / 2)])
  }
}
