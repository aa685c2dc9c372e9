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
  /// The largest scenario file read, in bytes (64 MiB).
  public static let maximumFileBytes = 64 << 20

  /// Reads a scenario file. `base` supplies the fields a variant file leaves out (the
  /// spec's rbf-100 has only its entity table; rbf-alt-tasks only its queue).
  ///
  /// The file is checked strictly (docs/scenarios.md lists every field): a JSON syntax
  /// error is reported by line and column, an unknown field by name with the nearest known
  /// one, and every number must lie in its field's range, so nothing later traps or makes
  /// the solver fail.
  public static func load(_ path: String, base: Scenario? = nil) throws -> Scenario {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw ScenarioError(file: path, message: "no such file")
    }
    if isDirectory.boolValue {
      throw ScenarioError(file: path, message: "is a directory, not a scenario file")
    }
    if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
      size > maximumFileBytes
    {
      throw ScenarioError(
        file: path, message: "is \(size) bytes; scenario files are limited to \(maximumFileBytes)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ScenarioError(file: path, message: "cannot read the file (check its permissions)")
    }
    return try parse(data, file: path, base: base)
  }

  /// Reads a scenario from the bytes of a file; `file` names it in errors.
  public static func parse(_ data: Data, file: String, base: Scenario? = nil) throws -> Scenario {
    do { try JSONCheck.check(data) } catch {
      throw ScenarioError(file: file, message: "\(error.description) (not valid JSON)")
    }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ScenarioError(file: file, message: "is not a JSON object")
    }
    return try ScenarioReader(file: file, root: root).scenario(base: base)
  }

  /// A seed given as a signed integer (a command-line option), refused when negative.
  public static func seed(_ value: Int, option: String) throws -> UInt64 {
    guard value >= 0 else {
      throw ScenarioError(file: option, message: "is \(value); a seed must be 0 or more")
    }
    return UInt64(value)
  }
}

/// The range each numeric field of a scenario file may take (docs/scenarios.md).
enum ScenarioLimits {
  static let entities = 1...10_000
  static let tasks = 1...100_000
  static let dimensions = 1...64
  static let amount = 0.0...1e6  // costs, capabilities, rewards, requirements, demands
  static let taskSlots = 1...1_000
  static let refillEvery = 0...1_000_000
  static let maxSteps = 1...1_000_000
  static let decayAfterStale = 0...1_000_000
  static let grid = 1...10_000
  static let sitePosition = -10_000.0...10_000.0
}

/// Field-by-field reading with errors that name the field and index.
struct ScenarioReader {
  let file: String
  let root: [String: Any]

  func fail(_ message: String) -> ScenarioError { ScenarioError(file: file, message: message) }

  /// Every field any scenario file may hold, by kind.
  static let common = ["name", "note", "oneStep"]
  static let fields: [EnvironmentKind: [String]] = [
    .almighty: common + ["entities", "tasks", "optimum", "sequentialTrap"],
    .electric: common + [
      "sites", "conveyCost", "taskQueue", "taskSlots", "refillEvery", "maxSteps", "decay",
      "decayAfterStale",
    ],
    .rbf: common + [
      "grid", "start", "entities", "taskQueue", "taskSlots", "refillEvery", "maxSteps", "decay",
      "decayAfterStale",
    ],
    .material: common + [
      "map", "start", "entities", "taskQueue", "taskSlots", "refillEvery", "maxSteps", "decay",
      "decayAfterStale",
    ],
  ]

  /// Refuses fields of `object` outside `allowed`, suggesting the nearest known field.
  func checkKeys(_ object: [String: Any], allowed: [String], at path: String, kind: String) throws {
    for key in object.keys.sorted() where !allowed.contains(key) {
      let everyField = Set(Self.fields.values.joined()).sorted()
      var message = "\(path)\(key): unknown field"
      if let near = closest(to: key, among: allowed) {
        message += "; did you mean '\(near)'?"
      } else if everyField.contains(key) {
        message += " for \(kind)"
      }
      throw fail(message + " (\(kind) fields: \(allowed.sorted().joined(separator: ", ")))")
    }
  }

  func number(_ value: Any?, _ field: String, in range: ClosedRange<Double>? = nil) throws
    -> Double
  {
    guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else {
      throw fail("\(field): expected a number, got \(describe(value))")
    }
    let x = n.doubleValue
    guard x.isFinite else { throw fail("\(field): \(x) is not a finite number") }
    if let range, !range.contains(x) {
      throw fail("\(field): \(x) is outside \(range.lowerBound)...\(range.upperBound)")
    }
    return x
  }

  func numbers(
    _ value: Any?, _ field: String, count: Int? = nil, in range: ClosedRange<Double>? = nil
  ) throws -> [Double] {
    guard let array = value as? [Any] else {
      throw fail("\(field): expected an array of numbers, got \(describe(value))")
    }
    if let count, array.count != count {
      throw fail("\(field): expected \(count) numbers, got \(array.count)")
    }
    return try array.enumerated().map { try number($1, "\(field)[\($0)]", in: range) }
  }

  /// A whole number in `range`, given by `value` at `field`.
  func whole(_ value: Any?, _ field: String, in range: ClosedRange<Int>) throws -> Int {
    let x = try number(value, field)
    guard x.rounded() == x, x >= Double(range.lowerBound), x <= Double(range.upperBound) else {
      throw fail(
        "\(field): expected a whole number in \(range.lowerBound)...\(range.upperBound), got \(x)")
    }
    return Int(x)
  }

  func integer(_ key: String, default fallback: Int? = nil, in range: ClosedRange<Int>) throws
    -> Int
  {
    guard let value = root[key] else {
      if let fallback { return fallback }
      throw fail("\(key): missing")
    }
    return try whole(value, key, in: range)
  }

  func decay(default fallback: Double) throws -> Double {
    guard let value = root["decay"] else { return fallback }
    let x = try number(value, "decay", in: 0...1)
    guard x > 0 else { throw fail("decay: must be above 0 (at most 1), got \(x)") }
    return x
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

  func list(_ key: String, of what: String, limit: ClosedRange<Int>) throws -> [Any] {
    guard let list = root[key] as? [Any] else {
      throw fail("\(key): expected an array of \(what), got \(describe(root[key]))")
    }
    if list.isEmpty { throw fail("\(key): is empty; it needs at least one of \(what)") }
    if list.count > limit.upperBound {
      throw fail("\(key): has \(list.count) \(what); at most \(limit.upperBound) are allowed")
    }
    return list
  }

  func entities(_ key: String, dimensions: Int?, grid: Int?) throws -> [Entity] {
    var out: [Entity] = []
    var d = dimensions
    for (i, item) in try list(key, of: "entities", limit: ScenarioLimits.entities).enumerated() {
      guard let e = item as? [String: Any] else { throw fail("\(key)[\(i)]: expected an object") }
      try checkKeys(
        e, allowed: ["cost", "capability", "position"], at: "\(key)[\(i)].", kind: "entity")
      let cost = try number(e["cost"], "\(key)[\(i)].cost", in: ScenarioLimits.amount)
      let capability = try numbers(
        e["capability"], "\(key)[\(i)].capability", count: d, in: ScenarioLimits.amount)
      if d == nil, !ScenarioLimits.dimensions.contains(capability.count) {
        throw fail(
          "\(key)[\(i)].capability: has \(capability.count) dimensions; 1 to "
            + "\(ScenarioLimits.dimensions.upperBound) are allowed")
      }
      d = capability.count
      let position = try e["position"].map {
        try numbers($0, "\(key)[\(i)].position", count: 2, in: positionRange(grid))
      }
      out.append(Entity(cost: cost, capability: capability, position: position))
    }
    return out
  }

  /// Where positions may lie: inside the grid when there is one.
  func positionRange(_ grid: Int?) -> ClosedRange<Double> {
    grid.map { 0...Double($0 - 1) } ?? ScenarioLimits.sitePosition
  }

  func tasks(_ key: String, dimensions: Int, grid: Int?) throws -> [TaskSpec] {
    try list(key, of: "tasks", limit: ScenarioLimits.tasks).enumerated().map { i, item in
      guard let t = item as? [String: Any] else { throw fail("\(key)[\(i)]: expected an object") }
      try checkKeys(
        t, allowed: ["reward", "requirement", "position"], at: "\(key)[\(i)].", kind: "task")
      let reward = try number(t["reward"], "\(key)[\(i)].reward", in: ScenarioLimits.amount)
      let requirement = try numbers(
        t["requirement"], "\(key)[\(i)].requirement", count: dimensions, in: ScenarioLimits.amount)
      // On a grid, `scenario` checks the position against the grid, with its size.
      let position = try t["position"].map {
        try numbers(
          $0, "\(key)[\(i)].position", count: 2, in: grid == nil ? ScenarioLimits.sitePosition : nil
        )
      }
      return TaskSpec(reward: reward, requirement: requirement, position: position)
    }
  }

  func scenario(base: Scenario?) throws -> Scenario {
    if let name = root["name"], !(name is String) {
      throw fail("name: expected a string, got \(describe(name))")
    }
    if let note = root["note"], !(note is String) {
      throw fail("note: expected a string, got \(describe(note))")
    }
    if let oneStep = root["oneStep"],
      !(oneStep is NSNumber && String(cString: (oneStep as! NSNumber).objCType) == "c")
    {
      throw fail("oneStep: expected true or false, got \(describe(oneStep))")
    }
    let name =
      root["name"] as? String
      ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    if root["sites"] != nil || base?.kind == .electric {
      try checkKeys(root, allowed: Self.fields[.electric]!, at: "", kind: "electric scenario")
      return try electric(name: name, base: base)
    }
    if root["oneStep"] as? Bool == true {
      try checkKeys(root, allowed: Self.fields[.almighty]!, at: "", kind: "one-step scenario")
      for key in ["optimum", "sequentialTrap"] where root[key] != nil {
        _ = try number(root[key], key)
      }
      let entities = try self.entities("entities", dimensions: nil, grid: nil)
      let tasks = try self.tasks("tasks", dimensions: entities[0].capability.count, grid: nil)
      return Scenario(
        name: name, kind: .almighty, entities: entities, tasks: tasks, taskSlots: tasks.count,
        refillEvery: 0,
        maxSteps: 1, decay: 1, decayAfterStale: 0, gridSize: nil, start: nil)
    }
    let kind: EnvironmentKind = root["map"] != nil || base?.kind == .material ? .material : .rbf
    try checkKeys(
      root, allowed: Self.fields[kind]!, at: "",
      kind: kind == .material ? "material scenario" : "grid (rbf) scenario")
    let gridKey = kind == .material ? "map" : "grid"
    // The grid's size, when given, bounds the positions; a missing one is reported after
    // the entities and queue (a variant file is more likely missing its base).
    let givenGrid =
      root[gridKey] != nil
      ? try integer(gridKey, in: ScenarioLimits.grid) : base?.gridSize
    let entities =
      root["entities"] != nil
      ? try self.entities("entities", dimensions: base?.dimensions, grid: givenGrid)
      : base?.entities
    guard let entities else { throw fail("entities: missing (and no base scenario supplies them)") }
    let queue =
      root["taskQueue"] != nil
      ? try tasks("taskQueue", dimensions: entities[0].capability.count, grid: givenGrid)
      : base?.tasks
    guard let queue else { throw fail("taskQueue: missing (and no base scenario supplies it)") }
    guard let grid = givenGrid else {
      throw fail("\(gridKey): missing (and no base scenario supplies it)")
    }
    var start = base?.start
    if root["start"] != nil {
      start = try numbers(root["start"], "start", count: 2, in: positionRange(grid))
    }
    for (i, t) in queue.enumerated() {
      guard let p = t.position else { throw fail("taskQueue[\(i)].position: missing") }
      if p.contains(where: { $0 < 0 || $0 >= Double(grid) }) {
        throw fail("taskQueue[\(i)].position: \(p) lies outside the \(grid)×\(grid) grid")
      }
    }
    return Scenario(
      name: name, kind: kind, entities: entities, tasks: queue,
      taskSlots: try integer(
        "taskSlots", default: base?.taskSlots ?? 5, in: ScenarioLimits.taskSlots),
      refillEvery: try integer(
        "refillEvery", default: base?.refillEvery ?? 5, in: ScenarioLimits.refillEvery),
      maxSteps: try integer(
        "maxSteps", default: base?.maxSteps ?? (kind == .material ? 150 : 100),
        in: ScenarioLimits.maxSteps),
      decay: try decay(default: base?.decay ?? 1),
      decayAfterStale: try integer(
        "decayAfterStale", default: base?.decayAfterStale ?? 10,
        in: ScenarioLimits.decayAfterStale),
      gridSize: grid, start: start)
  }

  /// Electric: sites are suppliers (capability = demand) and possible outages (tasks).
  func electric(name: String, base: Scenario?) throws -> Scenario {
    let sites = try list("sites", of: "sites", limit: ScenarioLimits.entities)
    let convey =
      root["conveyCost"] != nil
      ? try numbers(root["conveyCost"], "conveyCost", count: sites.count, in: ScenarioLimits.amount)
      : base?.entities.map(\.cost)
    guard let convey, convey.count == sites.count else {
      throw fail("conveyCost: expected \(sites.count) numbers (one per site)")
    }
    var entities: [Entity] = []
    var siteTasks: [TaskSpec] = []
    for (i, item) in sites.enumerated() {
      guard let s = item as? [String: Any] else { throw fail("sites[\(i)]: expected an object") }
      try checkKeys(s, allowed: ["reward", "demand", "position"], at: "sites[\(i)].", kind: "site")
      let reward = try number(s["reward"], "sites[\(i)].reward", in: ScenarioLimits.amount)
      let demand = try number(s["demand"], "sites[\(i)].demand", in: ScenarioLimits.amount)
      let position = try numbers(
        s["position"], "sites[\(i)].position", count: 2, in: ScenarioLimits.sitePosition)
      entities.append(Entity(cost: convey[i], capability: [demand], position: position))
      siteTasks.append(TaskSpec(reward: reward, requirement: [demand], position: position, site: i))
    }
    var queue: [TaskSpec]
    if root["taskQueue"] != nil {
      queue = try list("taskQueue", of: "site numbers", limit: ScenarioLimits.tasks).enumerated()
        .map { k, id in
          let x = try number(id, "taskQueue[\(k)]")
          guard x.rounded() == x, x >= 0, x < Double(sites.count) else {
            throw fail("taskQueue[\(k)]: site \(x) is not one of the \(sites.count) sites")
          }
          return siteTasks[Int(x)]
        }
    } else if let base {
      queue = try base.tasks.enumerated().map { k, task in
        guard let site = task.site, site < siteTasks.count else {
          throw fail(
            "taskQueue: missing, and the base scenario's queue names site outside 0..<\(siteTasks.count) at \(k)"
          )
        }
        return siteTasks[site]
      }
    } else {
      throw fail("taskQueue: missing")
    }
    return Scenario(
      name: name, kind: .electric, entities: entities, tasks: queue,
      taskSlots: try integer(
        "taskSlots", default: base?.taskSlots ?? 5, in: ScenarioLimits.taskSlots),
      refillEvery: try integer(
        "refillEvery", default: base?.refillEvery ?? 5, in: ScenarioLimits.refillEvery),
      maxSteps: try integer(
        "maxSteps", default: base?.maxSteps ?? 100, in: ScenarioLimits.maxSteps),
      decay: try decay(default: base?.decay ?? 0.9),
      decayAfterStale: try integer(
        "decayAfterStale", default: base?.decayAfterStale ?? 10,
        in: ScenarioLimits.decayAfterStale),
      gridSize: nil, start: nil)
  }
}

extension Scenario {
  /// `random(...)` with its sizes checked against the limits of scenario files (entities,
  /// tasks, dimensions, grid and slots), so a command-line request cannot trap; the error
  /// names `option` and the size.
  public static func validatedRandom(
    entities: Int, tasks: Int, dimensions: Int, seed: Int, gridSize: Int = 7, taskSlots: Int = 5,
    option: String
  ) throws -> Scenario {
    let checks: [(String, Int, ClosedRange<Int>)] = [
      ("entities", entities, ScenarioLimits.entities), ("tasks", tasks, ScenarioLimits.tasks),
      ("dimensions", dimensions, ScenarioLimits.dimensions),
      ("grid size", gridSize, ScenarioLimits.grid),
      ("task slots", taskSlots, ScenarioLimits.taskSlots),
    ]
    for (name, value, range) in checks where !range.contains(value) {
      throw ScenarioError(
        file: option,
        message: "\(name) is \(value); it must be in \(range.lowerBound)...\(range.upperBound)")
    }
    return random(
      entities: entities, tasks: tasks, dimensions: dimensions,
      seed: try Scenario.seed(seed, option: option), gridSize: gridSize, taskSlots: taskSlots)
  }

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
