import TensorCore

/// Integer arithmetic with worked solutions: `Q: 47+85` is answered by a plan line, one
/// step per digit column, a check line and the answer. Difficulty is the operand length
/// (`digits1` … `digits5`). Multiplication takes a one-digit multiplier, so every
/// solution stays one step per digit.
public struct ArithmeticTask: ReasoningTask {
  public enum Operation: String, Sendable, CaseIterable {
    case add = "+", subtract = "-", multiply = "*"
  }

  public let minDigits: Int
  public let maxDigits: Int
  public let operations: [Operation]
  public let trainSize: Int
  public let testSize: Int
  public let seed: UInt64
  public let wording: PromptWording

  public init(
    minDigits: Int = 1, maxDigits: Int = 3, operations: [Operation] = Operation.allCases,
    trainSize: Int = 20_000, testSize: Int = 500, seed: UInt64 = 0,
    wording: PromptWording = .compact
  ) {
    precondition(
      1 <= minDigits && minDigits <= maxDigits && maxDigits <= 9,
      "ArithmeticTask: digits must satisfy 1 ≤ min ≤ max ≤ 9")
    precondition(!operations.isEmpty, "ArithmeticTask: needs at least one operation")
    self.minDigits = minDigits
    self.maxDigits = maxDigits
    self.operations = operations
    self.trainSize = trainSize
    self.testSize = testSize
    self.seed = seed
    self.wording = wording
  }

  public var name: String { "arithmetic" }
  /// The plan, check, carry and borrow vocabulary of the worked solutions.
  public var planningPhrases: [String] {
    ["plan:", "check:", "right to left", "carrying", "borrowing", "carry", "borrow"]
  }
  public var difficulties: [String] { (minDigits...maxDigits).map { "digits\($0)" } }

  /// Test prompts are drawn first and never repeated in train.
  public func prompts(_ split: Split) -> [TaskPrompt] {
    var rng = RandomState(seed: seed ^ 0xA417_0001)
    var seen = Set<String>()
    var test: [TaskPrompt] = []
    var train: [TaskPrompt] = []
    var attempts = 0
    while (test.count < testSize || (split == .train && train.count < trainSize))
      && attempts < 20 * (trainSize + testSize) + 1000
    {
      attempts += 1
      let digits = minDigits + rng.nextInt(below: maxDigits - minDigits + 1)
      let op = operations[rng.nextInt(below: operations.count)]
      var a = Self.number(digits: digits, rng: &rng)
      var b = op == .multiply ? 2 + rng.nextInt(below: 8) : Self.number(digits: digits, rng: &rng)
      if op == .subtract && b > a { swap(&a, &b) }
      let compact = "Q: \(a)\(op.rawValue)\(b)\n"
      guard seen.insert(compact).inserted else { continue }
      let text = wording == .compact ? compact : Self.wordProblem(a, op, b)
      let answer = op == .add ? a + b : op == .subtract ? a - b : a * b
      let split: Split = test.count < testSize ? .test : .train
      let index = split == .test ? test.count : train.count
      let prompt = TaskPrompt(
        id: "arithmetic-\(split.rawValue)-\(index)", text: text, answer: "\(answer)",
        difficulty: "digits\(digits)",
        metadata: ["a": "\(a)", "b": "\(b)", "op": op.rawValue])
      if split == .test { test.append(prompt) } else { train.append(prompt) }
    }
    return split == .test ? test : train
  }

  /// `a op b` as a short story; the story and the name follow from the numbers.
  static func wordProblem(_ a: Int, _ op: Operation, _ b: Int) -> String {
    let name = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid"][(a &* 7 &+ b) % 6]
    let stories: [String]
    switch op {
    case .add:
      stories = [
        "\(name) has \(a) marbles and finds \(b) more. How many marbles does \(name) have now?",
        "A shop sold \(a) apples in the morning and \(b) in the afternoon. How many apples did it "
          + "sell that day?",
        "A train carries \(a) passengers, and \(b) more get on at the next stop. How many "
          + "passengers are on the train now?",
      ]
    case .subtract:
      stories = [
        "\(name) had \(a) stickers and gave \(b) of them away. How many stickers are left?",
        "A library had \(a) books and lent out \(b) of them. How many books are still on its "
          + "shelves?",
      ]
    case .multiply:
      stories = [
        "Each box holds \(a) pencils. How many pencils are in \(b) boxes?",
        "\(name) reads \(a) pages a day. How many pages does \(name) read in \(b) days?",
      ]
    }
    return stories[(a &+ b) % stories.count] + "\n"
  }

  static func number(digits: Int, rng: inout RandomState) -> Int {
    if digits == 1 { return rng.nextInt(below: 10) }
    var n = 1 + rng.nextInt(below: 9)
    for _ in 1..<digits { n = n * 10 + rng.nextInt(below: 10) }
    return n
  }

  public func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    guard let given = extractAnswer(completion), let value = Int(given) else { return 0 }
    return "\(value)" == prompt.answer ? 1 : 0
  }

  public func solution(_ prompt: TaskPrompt) -> String? {
    guard let a = Int(prompt.metadata["a"] ?? ""), let b = Int(prompt.metadata["b"] ?? ""),
      let op = Operation(rawValue: prompt.metadata["op"] ?? "")
    else { return nil }
    let da = Array("\(a)".reversed()).map { Int(String($0))! }
    let db = Array("\(b)".reversed()).map { Int(String($0))! }
    var lines: [String] = []
    switch op {
    case .add:
      lines.append("plan: add digits right to left, carrying")
      var carry = 0
      for i in 0..<max(da.count, db.count) {
        let (x, y) = (i < da.count ? da[i] : 0, i < db.count ? db[i] : 0)
        let s = x + y + carry
        lines.append("step: \(x)+\(y)+\(carry)=\(s)")
        carry = s / 10
      }
      if carry > 0 { lines.append("step: carry \(carry)") }
    case .subtract:
      lines.append("plan: subtract digits right to left, borrowing")
      var borrow = 0
      for i in 0..<da.count {
        let (x, y) = (da[i], i < db.count ? db[i] : 0)
        if x - y - borrow < 0 {
          lines.append("step: \(x + 10)-\(y)-\(borrow)=\(x + 10 - y - borrow) borrow")
          borrow = 1
        } else {
          lines.append("step: \(x)-\(y)-\(borrow)=\(x - y - borrow)")
          borrow = 0
        }
      }
    case .multiply:
      lines.append("plan: multiply each digit by \(b) right to left, carrying")
      var carry = 0
      for x in da {
        let p = x * b + carry
        lines.append("step: \(x)*\(b)+\(carry)=\(p)")
        carry = p / 10
      }
      if carry > 0 { lines.append("step: carry \(carry)") }
    }
    lines.append("check: \(a)\(op.rawValue)\(b)=\(prompt.answer)")
    lines.append("answer: \(prompt.answer)")
    return lines.joined(separator: "\n") + "\n"
  }
}
