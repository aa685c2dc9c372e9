/// How byte-level BPE tokenizers cut text into words before merging: the split patterns of
/// the common Llama-family tokenizers, written as hand matchers over Unicode scalars that
/// agree with the Python `regex` module on the exact pattern strings (no regex engine).
///
/// Classes follow that module: `\p{L}` is general category L*, `\p{N}` is N*, `\s` is the
/// Unicode `White_Space` property.
public enum PreTokenizer: String, Sendable, CaseIterable {
  /// GPT-2's pattern: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
  case gpt2
  /// Every `\p{N}` scalar on its own, then GPT-2's pattern on the rest (Hugging Face's
  /// `Digits(individual_digits)` + `ByteLevel`, llama.cpp's `smollm`).
  case smollm
  /// Llama 3's pattern: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|`
  /// ` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
  case llama3
  /// Qwen2's pattern: Llama 3's with `\p{N}` (one digit per word) for `\p{N}{1,3}`.
  case qwen2

  /// The exact split regex of each kind, as Hugging Face `tokenizer.json` files carry it.
  static let llama3Pattern =
    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
  static let qwen2Pattern =
    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
  static let gpt2Pattern =
    #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

  /// The words of `text`, in order; they concatenate back to `text`.
  public func split(_ text: String) -> [String] {
    let scalars = Array(text.unicodeScalars)
    var words: [String] = []
    forEachWord(scalars) { range in
      var word = String.UnicodeScalarView()
      word.append(contentsOf: scalars[range])
      words.append(String(word))
    }
    return words
  }

  /// Calls `body` with the scalar range of each word of `scalars`, in order.
  func forEachWord(_ scalars: [Unicode.Scalar], _ body: (Range<Int>) -> Void) {
    let classes = scalars.map(ScalarClass.init)
    let n = scalars.count
    var i = 0
    while i < n {
      let end: Int
      switch self {
      case .gpt2: end = gpt2Word(scalars, classes, i, n)
      case .smollm:
        if classes[i] == .number {
          end = i + 1
        } else {
          // GPT-2's pattern runs on the stretch up to the next number.
          var stop = i
          while stop < n && classes[stop] != .number { stop += 1 }
          end = gpt2Word(scalars, classes, i, stop)
        }
      case .llama3: end = llama3Word(scalars, classes, i, n, maxDigits: 3)
      case .qwen2: end = llama3Word(scalars, classes, i, n, maxDigits: 1)
      }
      body(i..<end)
      i = end
    }
  }
}

/// The character classes the patterns use.
enum ScalarClass: UInt8 {
  case letter, number, space, other

  init(_ s: Unicode.Scalar) {
    if s.value < 0x80 {
      switch s.value {
      case 0x41...0x5A, 0x61...0x7A: self = .letter
      case 0x30...0x39: self = .number
      case 0x09...0x0D, 0x20: self = .space
      default: self = .other
      }
      return
    }
    let p = s.properties
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      self = .letter
    case .decimalNumber, .letterNumber, .otherNumber: self = .number
    default: self = p.isWhitespace ? .space : .other
    }
  }
}

/// The end of a contraction `'s 't 're 've 'm 'll 'd` at `i`, or nil; `anyCase` for `(?i:…)`,
/// where `ſ` (U+017F) folds to `s` as in the `regex` module.
private func contractionEnd(_ s: [Unicode.Scalar], _ i: Int, _ n: Int, anyCase: Bool) -> Int? {
  guard s[i] == "'", i + 1 < n else { return nil }
  func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
    guard anyCase else { return c }
    if c == "\u{17F}" { return "s" }
    if c.value >= 0x41 && c.value <= 0x5A { return Unicode.Scalar(c.value + 32)! }
    return c
  }
  let a = lower(s[i + 1])
  if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
  guard i + 2 < n else { return nil }
  let b = lower(s[i + 2])
  if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
  return nil
}

/// The end of the run of `cls` scalars starting at `i` (at most up to `n`).
private func runEnd(_ c: [ScalarClass], _ i: Int, _ n: Int, _ cls: ScalarClass) -> Int {
  var j = i
  while j < n && c[j] == cls { j += 1 }
  return j
}

/// `\s+(?!\S)|\s+` at a space scalar `i`: the run, less its last scalar when a non-space
/// follows it and the run is longer than one.
private func spaceEnd(_ c: [ScalarClass], _ i: Int, _ n: Int, limit: Int) -> Int {
  let j = runEnd(c, i, limit, .space)
  if j < n && j - i > 1 { return j - 1 }
  return j
}

/// One GPT-2 word at `i`, matching within `i..<limit` (`n` is the text's length).
private func gpt2Word(
  _ s: [Unicode.Scalar], _ c: [ScalarClass], _ i: Int, _ limit: Int
) -> Int {
  if let end = contractionEnd(s, i, limit, anyCase: false) { return end }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
  var start = i
  if s[i] == " " && i + 1 < limit && c[i + 1] != .space { start = i + 1 }
  if c[start] != .space { return runEnd(c, start, limit, c[start]) }
  return spaceEnd(c, i, limit, limit: limit)
}

/// One Llama 3 / Qwen2 word at `i`.
private func llama3Word(
  _ s: [Unicode.Scalar], _ c: [ScalarClass], _ i: Int, _ n: Int, maxDigits: Int
) -> Int {
  if let end = contractionEnd(s, i, n, anyCase: true) { return end }
  let isLineBreak = { (k: Int) in s[k] == "\r" || s[k] == "\n" }
  // `[^\r\n\p{L}\p{N}]?\p{L}+`
  if c[i] == .letter { return runEnd(c, i, n, .letter) }
  if c[i] != .number && !isLineBreak(i) && i + 1 < n && c[i + 1] == .letter {
    return runEnd(c, i + 1, n, .letter)
  }
  // `\p{N}{1,n}`
  if c[i] == .number { return min(runEnd(c, i, n, .number), i + maxDigits) }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  var start = i
  if s[i] == " " && i + 1 < n && c[i + 1] == .other { start = i + 1 }
  if c[start] == .other {
    var j = runEnd(c, start, n, .other)
    while j < n && isLineBreak(j) { j += 1 }
    return j
  }
  // `\s*[\r\n]+`: the space run up to and including its last line break.
  let j = runEnd(c, i, n, .space)
  if let last = (i..<j).last(where: isLineBreak) { return last + 1 }
  // `\s+(?!\S)|\s+`
  return spaceEnd(c, i, n, limit: n)
}
