/// Character-level tokenizer over a declared alphabet plus special tokens. Its alphabet is
/// saved with checkpoints so a loaded model decodes as it was trained.
public struct Tokenizer: Equatable, Sendable {
  /// Begin-of-sequence, end-of-sequence and padding: ids 0, 1, 2.
  public static let bos = 0
  public static let eos = 1
  public static let pad = 2
  static let specialCount = 3

  /// The characters, in id order after the special tokens.
  public let alphabet: [Character]
  private let ids: [Character: Int]

  /// Printable ASCII and newline: enough for every built-in task.
  public static let defaultAlphabet = "\n" + String((32...126).map { Character(UnicodeScalar($0)) })

  public init(alphabet: String = Tokenizer.defaultAlphabet) {
    var seen: [Character] = []
    for c in alphabet where !seen.contains(c) { seen.append(c) }
    self.alphabet = seen
    var ids: [Character: Int] = [:]
    for (i, c) in seen.enumerated() { ids[c] = i + Self.specialCount }
    self.ids = ids
  }

  /// The number of token ids.
  public var vocabularySize: Int { alphabet.count + Self.specialCount }

  /// Token ids of `text`, or an error naming the first character outside the alphabet.
  public func encode(_ text: String) throws -> [Int] {
    var out: [Int] = []
    out.reserveCapacity(text.count)
    for (offset, c) in text.enumerated() {
      guard let id = ids[c] else { throw TokenizerError(character: c, offset: offset, text: text) }
      out.append(id)
    }
    return out
  }

  /// The text of `tokens`; special tokens are dropped, decoding stops at EOS.
  public func decode(_ tokens: [Int]) -> String {
    var out = ""
    for t in tokens {
      if t == Self.eos { break }
      if t >= Self.specialCount && t < vocabularySize {
        out.append(alphabet[t - Self.specialCount])
      }
    }
    return out
  }

  /// The alphabet as Unicode scalar values, for checkpoints.
  public var savedAlphabet: [Int64] {
    alphabet.flatMap { $0.unicodeScalars.map { Int64($0.value) } }
  }

  /// A tokenizer from `savedAlphabet`.
  public init(savedAlphabet: [Int64]) {
    self.init(
      alphabet: String(
        String.UnicodeScalarView(savedAlphabet.compactMap { UnicodeScalar(UInt32($0)) })))
  }
}

/// A character the tokenizer cannot encode.
public struct TokenizerError: Error, CustomStringConvertible {
  public var character: Character
  public var offset: Int
  public var text: String
  public var description: String {
    "tokenizer: character \(String(reflecting: String(character))) at offset \(offset) of "
      + "\(String(reflecting: String(text.prefix(60)))) is not in the alphabet"
  }
}
