/// Decodes tokens one at a time, as a sampler produces them: bytes that end in the middle
/// of a UTF-8 character wait for the next token, so the pieces joined equal
/// `decode(allTokens)`.
public struct StreamingDecoder: Sendable {
  public let tokenizer: BPETokenizer
  public let skipSpecialTokens: Bool
  /// The bytes of an unfinished character (at most 3).
  private var pending: [UInt8] = []

  public init(tokenizer: BPETokenizer, skipSpecialTokens: Bool = true) {
    self.tokenizer = tokenizer
    self.skipSpecialTokens = skipSpecialTokens
  }

  /// The text `token` completes ("" while a character is unfinished).
  public mutating func append(_ token: Int) -> String {
    pending += tokenizer.bytes(of: [token], skipSpecialTokens: skipSpecialTokens)
    let keep = unfinishedTail(pending)
    let ready = pending[..<(pending.count - keep)]
    let text = String(decoding: ready, as: UTF8.self)
    pending.removeFirst(pending.count - keep)
    return text
  }

  /// The text of bytes still waiting (U+FFFD for an unfinished character), emptying the
  /// buffer; call it when the sequence ends.
  public mutating func finish() -> String {
    defer { pending = [] }
    return String(decoding: pending, as: UTF8.self)
  }
}

/// How many trailing bytes of `bytes` are the start of a UTF-8 character that more bytes
/// could still complete (0 when the bytes end on a boundary or in an invalid sequence,
/// whose decoding no later byte changes).
func unfinishedTail(_ bytes: [UInt8]) -> Int {
  let n = bytes.count
  // The lead byte of the last character is at most 3 bytes back.
  for back in 1...min(3, max(n, 1)) where n >= back {
    let lead = bytes[n - back]
    if lead & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
    let length: Int
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0...0xEF: length = 3
    case 0xF0...0xF4: length = 4
    default: return 0
    }
    guard back < length else { return 0 }
    // The second byte's allowed range depends on the lead (no overlongs or surrogates).
    if back >= 2 {
      let second = bytes[n - back + 1]
      let range: ClosedRange<UInt8> =
        switch lead {
        case 0xE0: 0xA0...0xBF
        case 0xED: 0x80...0x9F
        case 0xF0: 0x90...0xBF
        case 0xF4: 0x80...0x8F
        default: 0x80...0xBF
        }
      if !range.contains(second) { return 0 }
    }
    return back
  }
  return 0
}
