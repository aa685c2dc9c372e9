import Foundation

/// Bring your own data: a JSONL file of `{"id", "prompt", "answer"}` lines (optional
/// `"difficulty"` and `"split"`: `"train"`/`"test"`), checked by one verifier. Lines
/// without a split go to test when a stable hash of their id falls under `testFraction`.
public struct JSONLTask: ReasoningTask {
  public enum Verifier: String, Sendable, CaseIterable {
    /// The answer text equals the reference exactly (after trimming spaces).
    case exact
    /// Both parse as numbers and differ by at most the tolerance.
    case numeric
    /// The reference is a regular expression the whole answer must match.
    case regex
  }

  public let path: String
  public let verifier: Verifier
  public let tolerance: Double
  let train: [TaskPrompt]
  let test: [TaskPrompt]

  /// Reads and checks the whole file; malformed lines are reported by line number.
  public init(
    path: String, verifier: Verifier = .exact, tolerance: Double = 1e-6, testFraction: Double = 0.1
  ) throws {
    self.path = path
    self.verifier = verifier
    self.tolerance = tolerance
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TaskError(message: "\(path): cannot read the file")
    }
    var train: [TaskPrompt] = []
    var test: [TaskPrompt] = []
    var problems: [String] = []
    var ids = Set<String>()
    for (i, line) in String(decoding: data, as: UTF8.self).split(
      separator: "\n", omittingEmptySubsequences: false
    ).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      let where_ = "\(path):\(i + 1)"
      guard
        let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any]
      else {
        problems.append("\(where_): not a JSON object")
        continue
      }
      func string(_ key: String) -> String? {
        if let s = object[key] as? String { return s }
        if let n = object[key] as? NSNumber { return n.stringValue }
        return nil
      }
      guard let id = string("id"), let prompt = object["prompt"] as? String,
        let answer = string("answer")
      else {
        problems.append("\(where_): needs \"id\", \"prompt\" (string) and \"answer\"")
        continue
      }
      guard ids.insert(id).inserted else {
        problems.append("\(where_): id \(String(reflecting: id)) appears twice")
        continue
      }
      if verifier == .regex, (try? NSRegularExpression(pattern: answer)) == nil {
        problems.append(
          "\(where_): answer \(String(reflecting: answer)) is not a valid regular expression")
        continue
      }
      if verifier == .numeric, Double(answer) == nil {
        problems.append("\(where_): answer \(String(reflecting: answer)) is not a number")
        continue
      }
      let item = TaskPrompt(
        id: id, text: prompt, answer: answer, difficulty: string("difficulty") ?? "all")
      let split = (object["split"] as? String).flatMap(Split.init(rawValue:))
      if let s = object["split"] as? String, split == nil {
        problems.append(
          "\(where_): split \(String(reflecting: s)) is neither \"train\" nor \"test\"")
        continue
      }
      let isTest = split.map { $0 == .test } ?? (Self.stableHash(id) < testFraction)
      if isTest { test.append(item) } else { train.append(item) }
    }
    if !problems.isEmpty {
      throw TaskError(
        message: "\(problems.count) malformed lines:\n"
          + problems.prefix(20).map { "  - \($0)" }.joined(separator: "\n"))
    }
    if train.isEmpty && test.isEmpty { throw TaskError(message: "\(path): holds no prompts") }
    self.train = train
    self.test = test
  }

  /// A hash of `id` in [0, 1) that does not change between runs or machines (FNV-1a).
  static func stableHash(_ id: String) -> Double {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in id.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return Double(h >> 11) / Double(1 << 53)
  }

  public var name: String { "jsonl" }
  public var difficulties: [String] { Array(Set((train + test).map(\.difficulty))).sorted() }
  public func prompts(_ split: Split) -> [TaskPrompt] { split == .train ? train : test }

  public func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    guard let given = extractAnswer(completion) else { return 0 }
    switch verifier {
    case .exact:
      return given == prompt.answer.trimmingCharacters(in: .whitespaces) ? 1 : 0
    case .numeric:
      guard let x = Double(given), let y = Double(prompt.answer) else { return 0 }
      return abs(x - y) <= tolerance ? 1 : 0
    case .regex:
      guard let regex = try? NSRegularExpression(pattern: "^(?:\(prompt.answer))$") else {
        return 0
      }
      return regex.firstMatch(in: given, range: NSRange(given.startIndex..., in: given)) != nil
        ? 1 : 0
    }
  }

  /// The answer line alone: a JSONL task has no worked solutions.
  public func solution(_ prompt: TaskPrompt) -> String? { "answer: \(prompt.answer)\n" }
}

/// A task that cannot be built from its inputs.
public struct TaskError: Error, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}
