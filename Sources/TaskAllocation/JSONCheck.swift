import Foundation

/// A strict JSON syntax check that reports where a file goes wrong (line and column, both
/// from 1) and refuses what JSON parsers silently accept: a key given twice in one object,
/// and nesting deeper than `maximumDepth`.
struct JSONCheck {
  /// A syntax problem and where it is.
  struct Problem: Error, Equatable {
    var line: Int
    var column: Int
    var message: String
    var description: String { "line \(line), column \(column): \(message)" }
  }

  static let maximumDepth = 64

  private let bytes: [UInt8]
  private var offset = 0

  private init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// Checks `data`; throws the first problem found.
  static func check(_ data: Data) throws(Problem) {
    var checker = JSONCheck([UInt8](data))
    if checker.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { checker.offset = 3 }  // a BOM
    checker.skipSpace()
    try checker.value(depth: 0)
    checker.skipSpace()
    if checker.offset < checker.bytes.count {
      throw checker.problem("unexpected text after the end of the JSON value")
    }
  }

  private func problem(_ message: String, at position: Int? = nil) -> Problem {
    let end = min(position ?? offset, bytes.count)
    var line = 1
    var column = 1
    var i = 0
    while i < end {
      if bytes[i] == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else if bytes[i] & 0xC0 != 0x80 {  // count characters, not UTF-8 continuation bytes
        column += 1
      }
      i += 1
    }
    return Problem(line: line, column: column, message: message)
  }

  private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

  private func describeCurrent() -> String {
    guard let c = current else { return "the end of the file" }
    if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
    return "byte 0x\(String(c, radix: 16))"
  }

  private mutating func skipSpace() {
    while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { offset += 1 }
  }

  private mutating func value(depth: Int) throws(Problem) {
    guard depth < Self.maximumDepth else {
      throw problem("nested deeper than \(Self.maximumDepth) levels")
    }
    switch current {
    case UInt8(ascii: "{"): try object(depth: depth)
    case UInt8(ascii: "["): try array(depth: depth)
    case UInt8(ascii: "\""): _ = try string()
    case UInt8(ascii: "t"): try literal("true")
    case UInt8(ascii: "f"): try literal("false")
    case UInt8(ascii: "n"): try literal("null")
    case let c? where c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39): try number()
    default: throw problem("expected a value, found \(describeCurrent())")
    }
  }

  private mutating func literal(_ word: String) throws(Problem) {
    let start = offset
    for expected in word.utf8 {
      guard current == expected else {
        throw problem("expected '\(word)'", at: start)
      }
      offset += 1
    }
  }

  private mutating func number() throws(Problem) {
    let start = offset
    if current == UInt8(ascii: "-") { offset += 1 }
    func digits(_ checker: inout JSONCheck) -> Int {
      var n = 0
      while let c = checker.current, c >= 0x30 && c <= 0x39 {
        checker.offset += 1
        n += 1
      }
      return n
    }
    if current == UInt8(ascii: "0") {
      offset += 1
      if let c = current, c >= 0x30 && c <= 0x39 {
        throw problem("a number cannot have a leading zero", at: start)
      }
    } else if digits(&self) == 0 {
      throw problem("expected digits in a number", at: start)
    }
    if current == UInt8(ascii: ".") {
      offset += 1
      if digits(&self) == 0 { throw problem("expected digits after the decimal point") }
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      offset += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
      if digits(&self) == 0 { throw problem("expected digits in the exponent") }
    }
    let text = String(decoding: bytes[start..<offset], as: UTF8.self)
    if let value = Double(text), !value.isFinite {
      throw problem("the number \(text) is too large", at: start)
    }
  }

  private mutating func string() throws(Problem) -> String {
    let start = offset
    offset += 1  // the opening quote
    var scalars: [UInt8] = []
    while true {
      guard let c = current else { throw problem("unterminated string", at: start) }
      if c == UInt8(ascii: "\"") {
        offset += 1
        return String(decoding: scalars, as: UTF8.self)
      }
      if c < 0x20 { throw problem("a control character (line break?) inside a string") }
      if c == UInt8(ascii: "\\") {
        offset += 1
        guard let e = current else { throw problem("unterminated string", at: start) }
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
          UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
          scalars.append(e)
          offset += 1
        case UInt8(ascii: "u"):
          offset += 1
          for _ in 0..<4 {
            guard let h = current,
              (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66)
            else { throw problem("expected four hex digits after \\u") }
            scalars.append(h)
            offset += 1
          }
        default: throw problem("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string")
        }
        continue
      }
      scalars.append(c)
      offset += 1
    }
  }

  private mutating func object(depth: Int) throws(Problem) {
    offset += 1
    skipSpace()
    if current == UInt8(ascii: "}") {
      offset += 1
      return
    }
    var keys = Set<String>()
    while true {
      guard current == UInt8(ascii: "\"") else {
        throw problem("expected a key in double quotes, found \(describeCurrent())")
      }
      let keyStart = offset
      let key = try string()
      guard keys.insert(key).inserted else {
        throw problem(
          "the key \(String(reflecting: key)) appears twice in one object", at: keyStart)
      }
      skipSpace()
      guard current == UInt8(ascii: ":") else {
        throw problem(
          "expected ':' after the key \(String(reflecting: key)), found \(describeCurrent())")
      }
      offset += 1
      skipSpace()
      try value(depth: depth + 1)
      skipSpace()
      if current == UInt8(ascii: ",") {
        offset += 1
        skipSpace()
        if current == UInt8(ascii: "}") { throw problem("a trailing comma before '}'") }
        continue
      }
      if current == UInt8(ascii: "}") {
        offset += 1
        return
      }
      throw problem("expected ',' or '}' in an object, found \(describeCurrent())")
    }
  }

  private mutating func array(depth: Int) throws(Problem) {
    offset += 1
    skipSpace()
    if current == UInt8(ascii: "]") {
      offset += 1
      return
    }
    while true {
      try value(depth: depth + 1)
      skipSpace()
      if current == UInt8(ascii: ",") {
        offset += 1
        skipSpace()
        if current == UInt8(ascii: "]") { throw problem("a trailing comma before ']'") }
        continue
      }
      if current == UInt8(ascii: "]") {
        offset += 1
        return
      }
      throw problem("expected ',' or ']' in an array, found \(describeCurrent())")
    }
  }
}

/// The closest of `candidates` to `word` (by edit distance, ignoring case), when it is close
/// enough to be a likely misspelling.
func closest(to word: String, among candidates: [String]) -> String? {
  func distance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    for i in 1...a.count {
      var row = [i] + [Int](repeating: 0, count: b.count)
      for j in 1...b.count {
        row[j] = min(
          previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      previous = row
    }
    return previous[b.count]
  }
  let target = Array(word.lowercased())
  let scored = candidates.map { ($0, distance(target, Array($0.lowercased()))) }
  guard let best = scored.min(by: { ($0.1, $0.0) < ($1.1, $1.0) }) else { return nil }
  return best.1 <= max(2, word.count / 3) ? best.0 : nil
}
