import Foundation
import TensorCore
import Testing

@testable import TaskAllocation

private let scenarioFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("../../Experiments/scenarios").standardized

/// The error `body` throws, as text; "" when it succeeds.
private func failure(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch { return "\(error)" }
}

/// Parses a scenario given as text (file name `s.json` in messages).
private func parse(_ json: String, base: Scenario? = nil) -> String {
  failure { _ = try Scenario.parse(Data(json.utf8), file: "s.json", base: base) }
}

private let rbfLike = #"""
  {"grid": 7, "start": [3, 3], "taskSlots": 2,
   "entities": [{"cost": 0.5, "capability": [2, 1]}, {"cost": 0.2, "capability": [1, 3]}],
   "taskQueue": [{"reward": 3, "requirement": [2, 2], "position": [1, 1]}]}
  """#

@Test func everyShippedScenarioStillLoads() throws {
  let names = try FileManager.default.contentsOfDirectory(atPath: scenarioFolder.path)
    .filter { $0.hasSuffix(".json") }.sorted()
  #expect(names.count == 7)
  let rbf = try Scenario.load(scenarioFolder.appendingPathComponent("rbf.json").path)
  let electric = try Scenario.load(scenarioFolder.appendingPathComponent("electric.json").path)
  for name in names {
    let base: Scenario? =
      name.hasPrefix("rbf-") ? rbf : name.hasPrefix("electric-") ? electric : nil
    _ = try Scenario.load(scenarioFolder.appendingPathComponent(name).path, base: base)
  }
}

@Test func syntaxErrorsArePlacedByLineAndColumn() {
  #expect(
    parse("{\"grid\": 7,\n  \"start\": [3 3]}")
      == "s.json: line 2, column 15: expected ',' or ']' in an array, found '3' (not valid JSON)")
  #expect(parse("{\"grid\": 7,}").contains("line 1, column 12: a trailing comma before '}'"))
  #expect(
    parse("{\"grid\": 7, \"grid\": 8}").contains(
      "line 1, column 13: the key \"grid\" appears twice"))
  #expect(parse("").contains("line 1, column 1: expected a value, found the end of the file"))
  #expect(parse("{\"a\": 1e999}").contains("the number 1e999 is too large"))
  #expect(parse(String(repeating: "[", count: 100)).contains("nested deeper than 64 levels"))
  #expect(parse("[1]") == "s.json: is not a JSON object")
}

@Test func unknownFieldsAreErrorsWithTheNearestKnownOne() {
  #expect(
    parse(rbfLike.replacingOccurrences(of: "taskSlots", with: "taskslots")).hasPrefix(
      "s.json: taskslots: unknown field; did you mean 'taskSlots'? (grid (rbf) scenario fields: "))
  let maxStep = rbfLike.replacingOccurrences(
    of: "\"grid\": 7,", with: "\"grid\": 7, \"maxStep\": 9,")
  #expect(parse(maxStep).contains("maxStep: unknown field; did you mean 'maxSteps'?"))
  let nested = rbfLike.replacingOccurrences(of: "\"cost\": 0.2", with: "\"costs\": 0.2")
  #expect(parse(nested).contains("entities[1].costs: unknown field; did you mean 'cost'?"))
  let wrongKind = rbfLike.replacingOccurrences(
    of: "\"grid\": 7,", with: "\"grid\": 7, \"conveyCost\": [1],")
  #expect(parse(wrongKind).contains("conveyCost: unknown field for grid (rbf) scenario"))
}

@Test func everyNumberIsBoundedAndNothingTraps() throws {
  let cases: [(from: String, to: String, expected: String)] = [
    (
      "\"taskSlots\": 2", "\"taskSlots\": 1e19",
      "taskSlots: expected a whole number in 1...1000, got 1e+19"
    ),
    ("\"taskSlots\": 2", "\"taskSlots\": -1", "taskSlots: expected a whole number in 1...1000"),
    ("\"taskSlots\": 2", "\"taskSlots\": 2.5", "taskSlots: expected a whole number"),
    ("\"grid\": 7", "\"grid\": 0", "grid: expected a whole number in 1...10000, got 0.0"),
    ("\"cost\": 0.5", "\"cost\": 1e19", "entities[0].cost: 1e+19 is outside 0.0...1000000.0"),
    ("\"cost\": 0.5", "\"cost\": -1", "entities[0].cost: -1.0 is outside"),
    ("\"reward\": 3", "\"reward\": true", "taskQueue[0].reward: expected a number, got a boolean"),
    (
      "\"position\": [1, 1]", "\"position\": [1e300, 1]",
      "taskQueue[0].position: [1e+300, 1.0] lies outside the 7×7 grid"
    ),
    ("\"start\": [3, 3]", "\"start\": [3, 30]", "start[1]: 30.0 is outside 0.0...6.0"),
    (
      "\"taskQueue\": [{\"reward\": 3, \"requirement\": [2, 2], \"position\": [1, 1]}]",
      "\"taskQueue\": []", "taskQueue: is empty; it needs at least one of tasks"
    ),
    ("\"grid\": 7", "\"grid\": 7, \"decay\": 0", "decay: must be above 0"),
    ("\"grid\": 7", "\"grid\": 7, \"decay\": 1.5", "decay: 1.5 is outside 0.0...1.0"),
    ("\"grid\": 7", "\"grid\": 7, \"name\": 5", "name: expected a string, got 5"),
  ]
  for (from, to, expected) in cases {
    #expect(rbfLike.contains(from))
    let message = parse(rbfLike.replacingOccurrences(of: from, with: to))
    #expect(message.hasPrefix("s.json: ") && message.contains(expected), "\(to): \(message)")
  }
  #expect(parse(rbfLike) == "")

  let electric = #"""
    {"sites": [{"reward": 1, "demand": 2, "position": [0, 0]}, {"reward": 1, "demand": 2, "position": [3, 4]}],
     "conveyCost": [0.1, 0.1], "taskQueue": [0, 1]}
    """#
  #expect(parse(electric) == "")
  #expect(
    parse(electric.replacingOccurrences(of: "[3, 4]", with: "[1e30, 4]"))
      .contains("sites[1].position[0]: 1e+30 is outside -10000.0...10000.0"))
  #expect(
    parse(electric.replacingOccurrences(of: "[0, 1]", with: "[0, 7]"))
      .contains("taskQueue[1]: site 7.0 is not one of the 2 sites"))
  #expect(
    parse(electric.replacingOccurrences(of: "[0, 1]", with: "[]"))
      .contains("taskQueue: is empty"))
  #expect(
    failure { _ = try Scenario.seed(-1, option: "--scenario-seed") }
      == "--scenario-seed: is -1; a seed must be 0 or more")
  #expect(try Scenario.seed(7, option: "--scenario-seed") == 7)
  #expect(
    failure {
      _ = try Scenario.validatedRandom(
        entities: 0, tasks: 3, dimensions: 2, seed: 1, option: "--random")
    } == "--random: entities is 0; it must be in 1...10000")
  #expect(
    failure {
      _ = try Scenario.validatedRandom(
        entities: 4, tasks: 3, dimensions: 2, seed: -1, option: "--scenario-seed")
    }.contains("a seed must be 0 or more"))
  let random = try Scenario.validatedRandom(
    entities: 4, tasks: 3, dimensions: 2, seed: 5, option: "--random")
  #expect(random == Scenario.random(entities: 4, tasks: 3, dimensions: 2, seed: 5))
}

@Test func theExactSolverRefusesWhatGLPKCannotTake() throws {
  let fine = AllocationProblem(
    entities: [Entity(cost: 1, capability: [2])], tasks: [TaskSpec(reward: 5, requirement: [2])])
  #expect(try ExactSolver().checkedSolve(fine).value == 4)
  let huge = AllocationProblem(
    entities: [Entity(cost: 1e300, capability: [2])], tasks: [TaskSpec(reward: 5, requirement: [2])]
  )
  #expect(
    failure { _ = try ExactSolver().checkedSolve(huge) }
      == "exact solver: entity 0 costs 1e+300 for task 0 (positions too far apart?)")
  let result = ExactSolver().solve(huge)  // the non-throwing call falls back, never aborts
  #expect(!result.optimal && result.value == 0)
  let nan = AllocationProblem(
    entities: [Entity(cost: 1, capability: [.nan])], tasks: [TaskSpec(reward: 5, requirement: [2])])
  #expect(failure { try ExactSolver.check(nan) }.contains("entity 0 has capability nan"))
}

/// Whether an error about `fuzz.json` starts by naming a field (`taskSlots:`,
/// `entities[3].cost:`, `start[1]:`).
private func namesAField(_ message: String) -> Bool {
  message.hasPrefix("fuzz.json: ")
    && message.dropFirst("fuzz.json: ".count).range(
      of: #"^[A-Za-z]+(\[\d+\])?[.:\[]"#, options: .regularExpression) != nil
}

/// Mutations of a valid scenario file (fixed seed): every one either loads, or fails with a
/// message that names the file and a field (`key:`/`key[i]`) or a line and column.
@Test func fuzzedScenarioFilesNeverCrashAndAlwaysSayWhere() throws {
  let sources = ["rbf.json", "electric.json", "almighty.json", "material.json"].map {
    try! String(contentsOf: scenarioFolder.appendingPathComponent($0), encoding: .utf8)
  }
  let tokens = [
    "1e19", "-1", "0", "NaN", "null", "true", "\"x\"", "[]", "{}", "1e999", "-0", "0.5",
    "9223372036854775807", "18446744073709551616", ",", ":", "]", "}", "\"taskslots\"",
    "\"maxStep\"", "1e-400", "\"\\u0000\"",
  ]
  var rng = RandomState(seed: 2026)
  var accepted = 0
  var rejected = 0
  let started = Date()
  for case_ in 0..<300 {
    var text = Array(sources[case_ % sources.count].utf8)
    for _ in 0..<(1 + rng.nextInt(below: 3)) {
      let at = rng.nextInt(below: text.count)
      switch rng.nextInt(below: 4) {
      case 0: text.remove(at: at)  // delete a byte
      case 1: text[at] = UInt8(32 + rng.nextInt(below: 95))  // replace it
      case 2:  // replace a number or word with a hostile token
        var end = at
        while end < text.count, !",:]} \n".utf8.contains(text[end]) { end += 1 }
        text.replaceSubrange(at..<end, with: Array(tokens[rng.nextInt(below: tokens.count)].utf8))
      default: text = Array(text.prefix(at))  // truncate
      }
    }
    let message = failure { _ = try Scenario.parse(Data(text), file: "fuzz.json") }
    if message.isEmpty {
      accepted += 1
      continue
    }
    rejected += 1
    let rest = message.dropFirst("fuzz.json: ".count)
    let namesField = namesAField(message)
    let namesLine = rest.hasPrefix("line ")
    #expect(message.hasPrefix("fuzz.json: "), "case \(case_): \(message)")
    #expect(
      namesField || namesLine || rest == "is not a JSON object",
      "case \(case_): \(message)")
  }
  #expect(rejected > 150)  // most mutations break something
  #expect(accepted > 5)  // and some (a changed digit) are fine
  #expect(Date().timeIntervalSince(started) < 10)
}

/// Every path to a value in a JSON tree (object keys and array indices).
private func paths(_ value: Any, _ prefix: [Any] = []) -> [[Any]] {
  var out: [[Any]] = [prefix]
  if let object = value as? [String: Any] {
    for key in object.keys.sorted() { out += paths(object[key]!, prefix + [key]) }
  } else if let array = value as? [Any] {
    for (i, item) in array.enumerated().prefix(3) { out += paths(item, prefix + [i]) }
  }
  return out
}

/// `value` with the element at `path` changed by `edit` (nil removes it).
private func editing(_ value: Any, at path: ArraySlice<Any>, _ edit: (Any) -> Any?) -> Any? {
  guard let head = path.first else { return edit(value) }
  if var object = value as? [String: Any], let key = head as? String {
    object[key] = editing(object[key]!, at: path.dropFirst(), edit)
    return object
  }
  if var array = value as? [Any], let i = head as? Int {
    if let changed = editing(array[i], at: path.dropFirst(), edit) {
      array[i] = changed
    } else {
      array.remove(at: i)
    }
    return array
  }
  return value
}

/// Mutations of the values and keys of valid scenario files (fixed seed): hostile numbers,
/// wrong types, removed and misspelt fields. Every one loads or names the field it refuses.
@Test func fuzzedScenarioFieldsAreRefusedByName() throws {
  let sources = ["rbf.json", "electric.json", "almighty.json", "material.json"].map {
    try! JSONSerialization.jsonObject(
      with: Data(contentsOf: scenarioFolder.appendingPathComponent($0)))
  }
  let hostile: [Any] = [
    1e19, -1, 0, 0.5, 1e300, -1e300, "x", [Any](), [String: Any](), true, NSNull(),
    Double(Int64.max), 7, 1e-300,
  ]
  var rng = RandomState(seed: 21)
  var rejected = 0
  var accepted = 0
  for case_ in 0..<300 {
    let source = sources[case_ % sources.count]
    let all = paths(source).filter { !$0.isEmpty }
    let path = all[rng.nextInt(below: all.count)]
    let choice = rng.nextInt(below: 10)
    var mutated: Any
    if choice < 7 {
      let replacement = hostile[rng.nextInt(below: hostile.count)]
      mutated = editing(source, at: path[...], { _ in replacement })!
    } else if choice < 9 {
      mutated = editing(source, at: path[...], { _ in nil })!  // remove it
    } else if let key = path.last as? String {  // misspell a key
      let misspelt = key.count > 3 ? String(key.dropLast()) : key + "s"
      mutated = editing(
        source, at: path.dropLast()[...],
        { parent in
          var object = parent as! [String: Any]
          object[misspelt] = object.removeValue(forKey: key)
          return object
        })!
    } else {
      continue
    }
    let data = try JSONSerialization.data(withJSONObject: mutated)
    let message = failure { _ = try Scenario.parse(data, file: "fuzz.json") }
    if message.isEmpty {
      accepted += 1
      continue
    }
    rejected += 1
    #expect(namesAField(message), "case \(case_) at \(path): \(message)")
  }
  #expect(rejected > 100)
  #expect(accepted > 10)
}

@Test func boundedExactCountsTheDecisionsItCouldNotSolveExactly() {
  let fine = AllocationProblem(
    entities: [Entity(cost: 1, capability: [2])], tasks: [TaskSpec(reward: 5, requirement: [2])])
  let huge = AllocationProblem(
    entities: [Entity(cost: 1e300, capability: [2])], tasks: [TaskSpec(reward: 5, requirement: [2])]
  )
  let failures = SolverFailures()
  var exact = BoundedExact(failures: failures)
  #expect(fine.payoff(exact.allocate(fine)) == 4)
  #expect(failures.count == 0 && failures.first == nil)
  _ = exact.allocate(huge)  // the sequential incumbent, and the failure counted
  _ = exact.allocate(huge)
  #expect(failures.count == 2)
  #expect("\(failures.first!)".contains("entity 0 costs 1e+300"))
}
