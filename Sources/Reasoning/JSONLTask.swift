import Foundation

/// Bring your own data: a JSONL file of `{"id", "prompt", "answer"}` lines (optional
/// `"difficulty"`, `"split"`: `"train"`/`"test"`, `"verifier"`: a `Verifier` name in place
/// of the task's, and `"metadata"`: an object of strings or numbers that the rewards see; any other key is refused). Lines
/// without a split go to test when a stable hash of their id falls under `testFraction`.
/// Both splits must end up non-empty; `splitSummary` says how the lines were divided.
public struct JSONLTask: ReasoningTask {
  /// How the file's lines were divided between the splits.
  public struct SplitSummary: Equatable, Sendable, CustomStringConvertible {
    /// Prompts in the train split, and how many of them were marked `"split": "train"`.
    public var train: Int
    public var markedTrain: Int
    /// Prompts in the test split, and how many of them were marked `"split": "test"`.
    public var test: Int
    public var markedTest: Int
    /// The fraction of unmarked lines sent to test by the hash of their id.
    public var testFraction: Double
    /// The training prompts kept (`trainLimit`); nil: all of them.
    public var trainKept: Int? = nil

    public var description: String {
      "\(train) train and \(test) test prompts (\(markedTrain) marked train, \(markedTest) "
        + "marked test, the other \(train + test - markedTrain - markedTest) split by a hash of "
        + "their id with testFraction \(testFraction))"
        + (trainKept.map { "; training on \($0) of the \(train)" } ?? "")
    }
  }

  /// The largest file read, in bytes (1 GiB).
  public static let maximumFileBytes = 1 << 30

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
  /// The line number of each prompt's id, for messages.
  let lines: [String: Int]
  /// The verifier of each prompt whose line names one.
  let verifiers: [String: Verifier]
  /// The keys a line may have.
  public static let keys = [
    "id", "prompt", "answer", "difficulty", "split", "verifier", "metadata",
  ]
  /// How the lines were divided between the splits.
  public let splitSummary: SplitSummary

  /// Reads and checks the whole file; malformed lines are reported by line number, and an
  /// empty train or test split is an error naming the file. `trainLimit` > 0 keeps that many
  /// training prompts, those whose ids hash lowest (a fixed subset that mixes the file's
  /// difficulties), in file order.
  public init(
    path: String, verifier: Verifier = .exact, tolerance: Double = 1e-6, testFraction: Double = 0.1,
    trainLimit: Int = 0
  ) throws {
    self.path = path
    self.verifier = verifier
    self.tolerance = tolerance
    guard testFraction.isFinite, (0...1).contains(testFraction) else {
      throw TaskError(
        message: "\(path): testFraction is \(testFraction); it must be between 0 and 1")
    }
    guard tolerance.isFinite, tolerance >= 0 else {
      throw TaskError(message: "\(path): tolerance is \(tolerance); it must be finite and ≥ 0")
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw TaskError(message: "\(path): no such file")
    }
    if isDirectory.boolValue {
      throw TaskError(message: "\(path): is a directory, not a JSONL file")
    }
    if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
      size > Self.maximumFileBytes
    {
      throw TaskError(
        message: "\(path): is \(size) bytes; JSONL tasks are read whole, up to "
          + "\(Self.maximumFileBytes) bytes")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TaskError(message: "\(path): cannot read the file (check its permissions)")
    }
    var train: [TaskPrompt] = []
    var test: [TaskPrompt] = []
    var problems: [String] = []
    var ids = Set<String>()
    var lines: [String: Int] = [:]
    var verifiers: [String: Verifier] = [:]
    var markedTrain = 0
    var markedTest = 0
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
      guard !id.isEmpty else {
        problems.append("\(where_): \"id\" is empty")
        continue
      }
      guard ids.insert(id).inserted else {
        problems.append("\(where_): id \(String(reflecting: id)) appears twice")
        continue
      }
      if let key = object.keys.sorted().first(where: { !Self.keys.contains($0) }) {
        problems.append(
          "\(where_): unknown key \(String(reflecting: key)); a line has "
            + Self.keys.map { "\"\($0)\"" }.joined(separator: ", "))
        continue
      }
      var verifier = verifier
      if let named = object["verifier"] {
        guard let name = named as? String, let chosen = Verifier(rawValue: name) else {
          problems.append(
            "\(where_): verifier \(named) is not one of "
              + Verifier.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
          continue
        }
        verifier = chosen
        verifiers[id] = chosen
      }
      var metadata: [String: String] = [:]
      if let given = object["metadata"] {
        guard let fields = given as? [String: Any],
          let values = Self.metadataStrings(fields)
        else {
          problems.append(
            "\(where_): \"metadata\" must be an object of strings and numbers")
          continue
        }
        metadata = values
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
        id: id, text: prompt, answer: answer, difficulty: string("difficulty") ?? "all",
        metadata: metadata)
      let split = (object["split"] as? String).flatMap(Split.init(rawValue:))
      if let s = object["split"] as? String, split == nil {
        problems.append(
          "\(where_): split \(String(reflecting: s)) is neither \"train\" nor \"test\"")
        continue
      }
      let isTest = split.map { $0 == .test } ?? (Self.stableHash(id) < testFraction)
      if split == .train { markedTrain += 1 }
      if split == .test { markedTest += 1 }
      lines[id] = i + 1
      if isTest { test.append(item) } else { train.append(item) }
    }
    if !problems.isEmpty {
      throw TaskError(
        message: "\(problems.count) malformed lines:\n"
          + problems.prefix(20).map { "  - \($0)" }.joined(separator: "\n"))
    }
    if train.isEmpty && test.isEmpty { throw TaskError(message: "\(path): holds no prompts") }
    var summary = SplitSummary(
      train: train.count, markedTrain: markedTrain, test: test.count, markedTest: markedTest,
      testFraction: testFraction)
    for (name, prompts) in [("train", train), ("test", test)] where prompts.isEmpty {
      throw TaskError(
        message: "\(path): the \(name) split is empty: \(summary); mark some lines "
          + "\"split\": \"\(name)\", add lines, or change task.testFraction")
    }
    if trainLimit > 0 {
      guard trainLimit <= train.count else {
        throw TaskError(
          message: "\(path): task.trainPrompts is \(trainLimit), but the file has only "
            + "\(train.count) training prompts (\(summary))")
      }
      let kept = Set(
        train.map { (Self.stableHash($0.id), $0.id) }.sorted { $0 < $1 }.prefix(trainLimit)
          .map(\.1))
      train = train.filter { kept.contains($0.id) }
      summary.trainKept = trainLimit
    }
    self.train = train
    self.test = test
    self.lines = lines
    self.verifiers = verifiers
    self.splitSummary = summary
  }

  /// A metadata object's values as text; nil when one is not a string or a number.
  static func metadataStrings(_ fields: [String: Any]) -> [String: String]? {
    var out: [String: String] = [:]
    for (key, value) in fields {
      if let s = value as? String {
        out[key] = s
      } else if let n = value as? NSNumber {
        out[key] = n.stringValue
      } else {
        return nil
      }
    }
    return out
  }

  /// A hash of `id` in [0, 1) that does not change between runs or machines: FNV-1a over
  /// every byte, then splitmix64's finalizer, so ids that differ only in their last bytes
  /// (`q0`…`q9`) land far apart.
  static func stableHash(_ id: String) -> Double {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in id.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
    h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
    h ^= h >> 31
    return Double(h >> 11) / Double(1 << 53)
  }

  /// Checks, before training starts, that every prompt leaves room for `maxNewTokens`
  /// generated tokens in a context of `context` tokens; `tokenCount` counts a prompt's
  /// tokens as the policy's tokenizer encodes it (with any template). The error names the
  /// file, line and id of the longest prompt that does not fit, and how many do not.
  public func checkPromptLengths(
    context: Int, maxNewTokens: Int, tokenCount: (String) -> Int
  ) throws {
    guard maxNewTokens >= 1, maxNewTokens < context else {
      throw TaskError(
        message: "\(path): maxNewTokens \(maxNewTokens) leaves no room for a prompt in a "
          + "context of \(context) tokens; it must be between 1 and \(context - 1)")
    }
    let room = context - maxNewTokens
    var worst: (prompt: TaskPrompt, tokens: Int)?
    var tooLong = 0
    for prompt in train + test {
      let tokens = tokenCount(prompt.text)
      guard tokens > room else { continue }
      tooLong += 1
      if worst == nil || tokens > worst!.tokens { worst = (prompt, tokens) }
    }
    if let worst {
      throw TaskError(
        message: "\(path):\(lines[worst.prompt.id] ?? 0): the prompt of id "
          + "\(String(reflecting: worst.prompt.id)) is \(worst.tokens) tokens, but a context of "
          + "\(context) with maxNewTokens \(maxNewTokens) leaves room for \(room) "
          + "(\(tooLong) prompt\(tooLong == 1 ? "" : "s") too long); shorten them, raise the "
          + "model's context or lower maxNewTokens")
    }
  }

  /// The line of the file that holds the prompt with this id.
  public func line(of id: String) -> Int? { lines[id] }

  public var name: String { "jsonl" }
  public var difficulties: [String] { Array(Set((train + test).map(\.difficulty))).sorted() }
  public func prompts(_ split: Split) -> [TaskPrompt] { split == .train ? train : test }

  public func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    guard let given = extractAnswer(completion) else { return 0 }
    switch verifiers[prompt.id] ?? verifier {
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
