import TensorCore

/// Countdown: reach a target from 3–5 given numbers with + − × ÷, each number used at most
/// once, every intermediate a positive integer. The answer is an expression that the
/// reward evaluates exactly. Worked solutions show a search: a first move that provably
/// leads nowhere ("try … / no"), then the moves that work ("instead …", "then …").
public struct CountdownTask: ReasoningTask {
  public let minNumbers: Int
  public let maxNumbers: Int
  public let trainSize: Int
  public let testSize: Int
  public let seed: UInt64
  public let wording: PromptWording

  public init(
    minNumbers: Int = 3, maxNumbers: Int = 4, trainSize: Int = 20_000, testSize: Int = 500,
    seed: UInt64 = 0, wording: PromptWording = .compact
  ) {
    precondition(
      2 <= minNumbers && minNumbers <= maxNumbers && maxNumbers <= 6,
      "CountdownTask: needs 2 ≤ min ≤ max ≤ 6 numbers")
    self.minNumbers = minNumbers
    self.maxNumbers = maxNumbers
    self.trainSize = trainSize
    self.testSize = testSize
    self.seed = seed
    self.wording = wording
  }

  public var name: String { "countdown" }
  /// The search vocabulary of the worked solutions.
  public var planningPhrases: [String] { ["try", "no", "instead", "then"] }
  public var difficulties: [String] { (minNumbers...maxNumbers).map { "numbers\($0)" } }

  /// One combining move: a op b = c.
  struct Move: Equatable {
    var a: Int
    var op: Character
    var b: Int
    var c: Int
    var text: String { "\(a)\(op)\(b)=\(c)" }
  }

  static func apply(_ a: Int, _ op: Character, _ b: Int) -> Int? {
    switch op {
    case "+": return a + b
    case "-": return a > b ? a - b : nil
    case "*": return a * b
    case "/": return b > 0 && a % b == 0 && b != 1 ? a / b : nil
    default: return nil
    }
  }

  public func prompts(_ split: Split) -> [TaskPrompt] {
    var rng = RandomState(seed: seed ^ 0xC0DE_0002)
    var seen = Set<String>()
    var out: [TaskPrompt] = []
    var test = 0
    let wanted = split == .test ? testSize : trainSize
    var attempts = 0
    while out.count < wanted && attempts < 50 * wanted + 1000 {
      attempts += 1
      let n = minNumbers + rng.nextInt(below: maxNumbers - minNumbers + 1)
      let numbers = (0..<n).map { _ in
        rng.nextUniform() < 0.15
          ? [25, 50, 75, 100][rng.nextInt(below: 4)] : 1 + rng.nextInt(below: 10)
      }
      // Combine a random subset of at least two numbers by random moves into the target.
      var pool = numbers
      var moves: [Move] = []
      let uses = 2 + rng.nextInt(below: n - 1)
      while moves.count < uses - 1 {
        let i = rng.nextInt(below: pool.count)
        var j = rng.nextInt(below: pool.count - 1)
        if j >= i { j += 1 }
        let op = Array("+-*/")[rng.nextInt(below: 4)]
        guard let c = Self.apply(pool[i], op, pool[j]), c <= 999 else { break }
        moves.append(Move(a: pool[i], op: op, b: pool[j], c: c))
        pool.remove(at: max(i, j))
        pool.remove(at: min(i, j))
        pool.append(c)
      }
      guard moves.count == uses - 1, let target = moves.last?.c, !numbers.contains(target) else {
        continue
      }
      let compact =
        "Q: reach \(target) with \(numbers.map(String.init).joined(separator: " "))\n"
      guard seen.insert(compact).inserted else { continue }
      let listed =
        numbers.dropLast().map(String.init).joined(separator: ", ") + " and \(numbers.last!)"
      let text =
        wording == .compact
        ? compact
        : "Using the numbers \(listed), each at most once, and the operations +, -, * and /, "
          + "write an expression that equals \(target).\n"
      let isTest = test < testSize
      if isTest { test += 1 }
      guard (split == .test) == isTest else { continue }
      out.append(
        TaskPrompt(
          id: "countdown-\(split.rawValue)-\(out.count)", text: text, answer: "\(target)",
          difficulty: "numbers\(n)",
          metadata: [
            "numbers": numbers.map(String.init).joined(separator: " "), "target": "\(target)",
            "moves": moves.map(\.text).joined(separator: " "),
          ]))
    }
    return out
  }

  public func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    guard let expression = extractAnswer(completion),
      let target = Int(prompt.metadata["target"] ?? ""),
      let numbers = prompt.metadata["numbers"]?.split(separator: " ").compactMap({ Int($0) })
    else { return 0 }
    guard let (value, used) = IntegerExpression.evaluate(expression), value == target else {
      return 0
    }
    var available = numbers
    for u in used {
      guard let k = available.firstIndex(of: u) else { return 0 }
      available.remove(at: k)
    }
    return 1
  }

  public func solution(_ prompt: TaskPrompt) -> String? {
    guard let numbers = prompt.metadata["numbers"]?.split(separator: " ").compactMap({ Int($0) }),
      let target = Int(prompt.metadata["target"] ?? ""),
      let path = Self.solve(numbers, target: target, budget: 200_000)
    else { return nil }
    var lines: [String] = []
    // A first move that provably cannot reach the target, when one exists.
    if let deadEnd = Self.firstMoves(numbers).first(where: { move in
      move.c != target && move != path.first
        && Self.solve(Self.after(move, numbers), target: target, budget: 20_000) == nil
    }) {
      lines.append("try \(deadEnd.text)")
      lines.append("no")
      lines.append("instead \(path[0].text)")
    } else {
      lines.append("try \(path[0].text)")
    }
    for move in path.dropFirst() { lines.append("then \(move.text)") }
    lines.append("answer: \(Self.expression(for: path, numbers: numbers))")
    return lines.joined(separator: "\n") + "\n"
  }

  static func firstMoves(_ numbers: [Int]) -> [Move] {
    var out: [Move] = []
    for i in numbers.indices {
      for j in numbers.indices where i != j {
        for op in "+-*/" where op == "-" || op == "/" || i < j {
          if let c = apply(numbers[i], op, numbers[j]) {
            out.append(Move(a: numbers[i], op: op, b: numbers[j], c: c))
          }
        }
      }
    }
    return out
  }

  static func after(_ move: Move, _ numbers: [Int]) -> [Int] {
    var pool = numbers
    pool.remove(at: pool.firstIndex(of: move.a)!)
    pool.remove(at: pool.firstIndex(of: move.b)!)
    return pool + [move.c]
  }

  /// A shortest-first depth-first search for moves reaching `target`; nil when none
  /// exists (or the node budget runs out).
  static func solve(_ numbers: [Int], target: Int, budget: Int) -> [Move]? {
    if numbers.contains(target) { return [] }
    var remaining = budget
    func search(_ pool: [Int]) -> [Move]? {
      remaining -= 1
      if remaining < 0 || pool.count < 2 { return nil }
      for move in firstMoves(pool) {
        if move.c == target { return [move] }
        if let rest = search(after(move, pool)) { return [move] + rest }
      }
      return nil
    }
    return search(numbers)
  }

  /// The path as one parenthesised expression over the original numbers.
  static func expression(for path: [Move], numbers: [Int]) -> String {
    var pool: [(value: Int, text: String)] = numbers.map { ($0, "\($0)") }
    for move in path {
      let i = pool.firstIndex { $0.value == move.a }!
      let a = pool.remove(at: i)
      let j = pool.firstIndex { $0.value == move.b }!
      let b = pool.remove(at: j)
      pool.append((move.c, "(\(a.text)\(move.op)\(b.text))"))
    }
    var text = pool.last!.text
    if text.hasPrefix("(") && text.hasSuffix(")") { text = String(text.dropFirst().dropLast()) }
    return text
  }
}

/// Exact evaluation of integer expressions with + − × ÷ and parentheses; division must be
/// exact. Returns the value and the numbers used, or nil when malformed.
public enum IntegerExpression {
  public static func evaluate(_ text: String) -> (value: Int, numbers: [Int])? {
    var parser = Parser(Array(text.filter { !$0.isWhitespace }))
    guard let value = parser.sum(), parser.index == parser.chars.count else { return nil }
    return (value, parser.numbers)
  }

  struct Parser {
    let chars: [Character]
    var index = 0
    var numbers: [Int] = []
    init(_ chars: [Character]) { self.chars = chars }

    mutating func sum() -> Int? {
      guard var value = product() else { return nil }
      while index < chars.count, chars[index] == "+" || chars[index] == "-" {
        let op = chars[index]
        index += 1
        guard let rhs = product() else { return nil }
        value = op == "+" ? value + rhs : value - rhs
      }
      return value
    }

    mutating func product() -> Int? {
      guard var value = atom() else { return nil }
      while index < chars.count, chars[index] == "*" || chars[index] == "/" {
        let op = chars[index]
        index += 1
        guard let rhs = atom() else { return nil }
        if op == "*" {
          let (p, overflow) = value.multipliedReportingOverflow(by: rhs)
          guard !overflow else { return nil }
          value = p
        } else {
          guard rhs != 0, value % rhs == 0 else { return nil }
          value /= rhs
        }
      }
      return value
    }

    mutating func atom() -> Int? {
      guard index < chars.count else { return nil }
      if chars[index] == "(" {
        index += 1
        guard let value = sum(), index < chars.count, chars[index] == ")" else { return nil }
        index += 1
        return value
      }
      var digits = ""
      while index < chars.count, chars[index].isASCII, chars[index].isNumber, digits.count < 9 {
        digits.append(chars[index])
        index += 1
      }
      guard let n = Int(digits) else { return nil }
      numbers.append(n)
      return n
    }
  }
}
