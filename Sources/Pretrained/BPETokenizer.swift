import Foundation
import Reasoning

/// A byte-level BPE tokenizer (GPT-2, SmolLM2, Llama 3, Qwen2): added tokens are cut out of
/// the text first (longest match), the rest is split into words by a `PreTokenizer`, each
/// word's UTF-8 bytes are merged by rank into vocabulary tokens.
///
/// `encode` adds no BOS or EOS: a caller that wants one (GGUF `add_bos_token`) prepends it.
public struct BPETokenizer: TextTokenizer {
  /// A token matched verbatim in raw text before pre-tokenization (`<|im_start|>`).
  public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int
    /// Special tokens are left out by `decode(_:skipSpecialTokens: true)`.
    public var special: Bool

    public init(content: String, id: Int, special: Bool) {
      self.content = content
      self.id = id
      self.special = special
    }
  }

  /// The merge list, in rank order, as the files carry it.
  public enum Merges: Sendable {
    /// `"a b"` strings (GGUF `tokenizer.ggml.merges`, older `tokenizer.json`).
    case joined([String])
    /// `["a", "b"]` pairs (newer `tokenizer.json`).
    case pairs([(String, String)])
  }

  /// Each id's token string, in the byte-to-Unicode alphabet (`Ġ` for a space).
  public let tokens: [String]
  public let preTokenizer: PreTokenizer
  /// Tokens matched verbatim in raw text.
  public let addedTokens: [AddedToken]
  public let bosToken: Int?
  public let eosToken: Int?
  public let paddingToken: Int?
  /// Whether the model's files ask for a BOS before each text (GGUF `add_bos_token`,
  /// `tokenizer_config.json`'s `add_bos_token`); `encode` never adds it, the caller does.
  public let addsBOSToken: Bool
  /// Whether a word that is itself a token skips merging (Llama 3's `ignore_merges`).
  public let ignoreMerges: Bool
  /// Whether text is put in Unicode NFC before splitting (Qwen2's `tokenizer.json`).
  public let normalizesNFC: Bool

  /// Vocabulary entries and added tokens by string.
  private let ids: [String: Int]
  /// Vocabulary entries alone (merges and `ignoreMerges` look here).
  private let vocabulary: [String: Int]
  /// Merge table: (left id << 32 | right id) -> (rank << 32 | merged id).
  let mergeTable: [UInt64: UInt64]
  /// Each byte's single-byte token, -1 for none.
  private let byteTokens: [Int32]
  /// Each id's bytes when decoded.
  private let tokenBytes: [[UInt8]]
  private let specialIDs: Set<Int>
  private let addedMatcher: AddedTokenMatcher
  private let cache = WordCache()

  /// Builds a tokenizer from plain values (what a GGUF file or `tokenizer.json` holds).
  ///
  /// `tokens[id]` is the token string of `id`; every merge's two sides and their
  /// concatenation must be tokens. `source` names the file in errors.
  public init(
    tokens: [String], merges: Merges, preTokenizer: PreTokenizer, addedTokens: [AddedToken],
    bosToken: Int?, eosToken: Int?, paddingToken: Int?, addsBOSToken: Bool = false,
    ignoreMerges: Bool = false, normalizesNFC: Bool = false, source: String
  ) throws {
    var vocabulary: [String: Int] = [:]
    vocabulary.reserveCapacity(tokens.count)
    for (id, token) in tokens.enumerated() where vocabulary[token] == nil { vocabulary[token] = id }
    var ids = vocabulary
    for added in addedTokens {
      guard tokens.indices.contains(added.id) else {
        throw PretrainedFileError(
          source,
          "added token '\(added.content)' has id \(added.id), outside the \(tokens.count) tokens")
      }
      ids[added.content] = added.id
    }
    for (name, id) in [("bos", bosToken), ("eos", eosToken), ("padding", paddingToken)] {
      if let id, !tokens.indices.contains(id) {
        throw PretrainedFileError(
          source, "\(name) token id \(id) is outside the \(tokens.count) tokens")
      }
    }

    var pairs: [(String, String)] = []
    switch merges {
    case .pairs(let p): pairs = p
    case .joined(let lines):
      pairs.reserveCapacity(lines.count)
      for (rank, line) in lines.enumerated() {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
          throw PretrainedFileError(
            source, "merge \(rank) '\(line)' is not two tokens separated by a space")
        }
        pairs.append((String(parts[0]), String(parts[1])))
      }
    }
    var table: [UInt64: UInt64] = [:]
    table.reserveCapacity(pairs.count)
    for (rank, (a, b)) in pairs.enumerated() {
      guard let l = vocabulary[a], let r = vocabulary[b], let m = vocabulary[a + b] else {
        let missing = vocabulary[a] == nil ? a : vocabulary[b] == nil ? b : a + b
        throw PretrainedFileError(
          source, "merge \(rank) '\(a) \(b)' uses '\(missing)', which is not a token")
      }
      let key = UInt64(l) << 32 | UInt64(r)
      if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(m) }
    }

    // A byte with no token (SmolLM2 has none for 0x04, for instance) is left out of
    // encodings, as Hugging Face `tokenizers` leaves out symbols outside its vocabulary.
    let byteTokens = ByteLevel.byteToScalar.map { Int32(vocabulary[String(Character($0))] ?? -1) }

    self.tokens = tokens
    self.preTokenizer = preTokenizer
    self.addedTokens = addedTokens
    self.bosToken = bosToken
    self.eosToken = eosToken
    self.paddingToken = paddingToken
    self.addsBOSToken = addsBOSToken
    self.ignoreMerges = ignoreMerges
    self.normalizesNFC = normalizesNFC
    self.ids = ids
    self.vocabulary = vocabulary
    self.mergeTable = table
    self.byteTokens = byteTokens
    self.tokenBytes = tokens.map(ByteLevel.bytes)
    self.specialIDs = Set(addedTokens.filter(\.special).map(\.id))
    self.addedMatcher = AddedTokenMatcher(addedTokens)
  }

  /// The number of ids.
  public var vocabularySize: Int { tokens.count }

  /// The id of the token spelled `token` (an added token's content, or a vocabulary entry in
  /// the byte-level alphabet), or nil.
  public func id(of token: String) -> Int? { ids[token] }

  /// Whether `id` is a special token (left out by `skipSpecialTokens`).
  public func isSpecial(_ id: Int) -> Bool { specialIDs.contains(id) }

  /// The ids of `text`; added tokens written in it become their ids. Bytes the vocabulary
  /// has no token for are left out, as in transformers. Never throws.
  public func encode(_ text: String) -> [Int] {
    var out: [Int] = []
    out.reserveCapacity(text.utf8.count / 3)
    let utf8 = Array(text.utf8)
    var start = 0
    addedMatcher.forEachMatch(in: utf8) { range, id in
      if range.lowerBound > start { encodeOrdinary(utf8[start..<range.lowerBound], into: &out) }
      out.append(id)
      start = range.upperBound
    }
    if start < utf8.count { encodeOrdinary(utf8[start...], into: &out) }
    return out
  }

  /// Encodes text that holds no added token.
  private func encodeOrdinary(_ bytes: ArraySlice<UInt8>, into out: inout [Int]) {
    var text = String(decoding: bytes, as: UTF8.self)
    if normalizesNFC { text = text.precomposedStringWithCanonicalMapping }
    let scalars = Array(text.unicodeScalars)
    preTokenizer.forEachWord(scalars) { range in
      var word: [UInt8] = []
      word.reserveCapacity(range.count)
      for s in scalars[range] { word.append(contentsOf: UTF8.encode(s)!) }
      if let hit = cache.get(word) {
        out.append(contentsOf: hit.lazy.map(Int.init))
        return
      }
      let pieces = mergeWord(word)
      cache.put(word, pieces)
      out.append(contentsOf: pieces.lazy.map(Int.init))
    }
  }

  /// BPE on one word: repeatedly merge the adjacent pair of lowest rank (leftmost on ties).
  private func mergeWord(_ word: [UInt8]) -> [Int32] {
    if ignoreMerges, let whole = vocabulary[ByteLevel.string(word)] { return [Int32(whole)] }
    var symbols = word.map { byteTokens[Int($0)] }
    if symbols.contains(-1) { symbols.removeAll { $0 == -1 } }
    let n = symbols.count
    if n < 2 { return symbols }
    var next = Array(1...n)  // n marks the end
    var prev = Array(-1..<(n - 1))
    var heap = PairHeap()
    func rankAndMerged(_ i: Int) -> UInt64? {
      let j = next[i]
      guard j < n else { return nil }
      return mergeTable[
        UInt64(UInt32(bitPattern: symbols[i])) << 32 | UInt64(UInt32(bitPattern: symbols[j]))]
    }
    for i in 0..<(n - 1) {
      if let v = rankAndMerged(i) { heap.push(rank: v >> 32, position: i) }
    }
    while let (rank, i) = heap.pop() {
      // Skip entries made stale by an earlier merge (removed symbol or changed pair).
      guard prev[i] != -2, let v = rankAndMerged(i), v >> 32 == rank else { continue }
      let j = next[i]
      symbols[i] = Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
      next[i] = next[j]
      if next[j] < n { prev[next[j]] = i }
      prev[j] = -2
      if prev[i] >= 0, let u = rankAndMerged(prev[i]) {
        heap.push(rank: u >> 32, position: prev[i])
      }
      if let u = rankAndMerged(i) { heap.push(rank: u >> 32, position: i) }
    }
    var out: [Int32] = []
    var i = 0
    while i < n {
      out.append(symbols[i])
      i = next[i]
    }
    return out
  }

  /// The text of `tokens`, special tokens left out (the `TextTokenizer` requirement).
  public func decode(_ tokens: [Int]) -> String { decode(tokens, skipSpecialTokens: true) }

  /// The exact text of `tokens`; ids outside the vocabulary are left out, and bytes that do
  /// not form UTF-8 become U+FFFD (as Hugging Face `tokenizers` does).
  public func decode(_ tokens: [Int], skipSpecialTokens: Bool) -> String {
    String(decoding: bytes(of: tokens, skipSpecialTokens: skipSpecialTokens), as: UTF8.self)
  }

  /// The bytes `tokens` stand for.
  public func bytes(of tokens: [Int], skipSpecialTokens: Bool) -> [UInt8] {
    var out: [UInt8] = []
    for id in tokens where tokenBytes.indices.contains(id) {
      if skipSpecialTokens && specialIDs.contains(id) { continue }
      out += tokenBytes[id]
    }
    return out
  }
}

/// GPT-2's reversible byte-to-Unicode alphabet: printable Latin-1 bytes stand for
/// themselves, the other 68 bytes for U+0100 onwards, in byte order.
enum ByteLevel {
  static let byteToScalar: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var extra: UInt32 = 0
    for b in 0..<256 {
      let printable =
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
      if printable {
        table[b] = Unicode.Scalar(UInt8(b))
      } else {
        table[b] = Unicode.Scalar(0x100 + extra)!
        extra += 1
      }
    }
    return table
  }()

  static let scalarToByte: [UInt32: UInt8] = {
    var map: [UInt32: UInt8] = [:]
    for (b, s) in byteToScalar.enumerated() { map[s.value] = UInt8(b) }
    return map
  }()

  /// `bytes` in the byte-level alphabet.
  static func string(_ bytes: [UInt8]) -> String {
    var s = String.UnicodeScalarView()
    for b in bytes { s.append(byteToScalar[Int(b)]) }
    return String(s)
  }

  /// The bytes a token string stands for: through the alphabet when every scalar is in it,
  /// else the string's own UTF-8 (an added token such as `<|im_start|>` either way).
  static func bytes(_ token: String) -> [UInt8] {
    var out: [UInt8] = []
    for s in token.unicodeScalars {
      guard let b = scalarToByte[s.value] else { return Array(token.utf8) }
      out.append(b)
    }
    return out
  }
}

/// Finds added tokens in UTF-8 text: at the leftmost position where one starts, the
/// longest one.
struct AddedTokenMatcher: Sendable {
  /// Candidates by first byte, longest first.
  private let byFirstByte: [[([UInt8], Int)]]

  init(_ added: [BPETokenizer.AddedToken]) {
    var table = [[([UInt8], Int)]](repeating: [], count: 256)
    for token in added where !token.content.isEmpty {
      let bytes = Array(token.content.utf8)
      table[Int(bytes[0])].append((bytes, token.id))
    }
    byFirstByte = table.map { $0.sorted { $0.0.count > $1.0.count } }
  }

  func forEachMatch(in text: [UInt8], _ body: (Range<Int>, Int) -> Void) {
    var i = 0
    let n = text.count
    outer: while i < n {
      for (bytes, id) in byFirstByte[Int(text[i])]
      where i + bytes.count <= n && text[i..<(i + bytes.count)].elementsEqual(bytes) {
        body(i..<(i + bytes.count), id)
        i += bytes.count
        continue outer
      }
      i += 1
    }
  }
}

/// A min-heap of (rank, position) packed in one UInt64: lower rank first, then lower
/// position.
private struct PairHeap {
  private var items: [UInt64] = []

  mutating func push(rank: UInt64, position: Int) {
    items.append(rank << 32 | UInt64(position))
    var c = items.count - 1
    while c > 0 {
      let p = (c - 1) / 2
      if items[p] <= items[c] { break }
      items.swapAt(p, c)
      c = p
    }
  }

  mutating func pop() -> (UInt64, Int)? {
    guard let top = items.first else { return nil }
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var p = 0
      while true {
        let l = 2 * p + 1
        let r = l + 1
        var m = p
        if l < items.count && items[l] < items[m] { m = l }
        if r < items.count && items[r] < items[m] { m = r }
        if m == p { break }
        items.swapAt(p, m)
        p = m
      }
    }
    return (top >> 32, Int(top & 0xFFFF_FFFF))
  }
}

/// Words already merged, shared by copies of a tokenizer; cleared when it grows large.
private final class WordCache: @unchecked Sendable {
  private var entries: [[UInt8]: [Int32]] = [:]
  private let lock = NSLock()

  func get(_ word: [UInt8]) -> [Int32]? {
    lock.lock()
    defer { lock.unlock() }
    return entries[word]
  }

  func put(_ word: [UInt8], _ pieces: [Int32]) {
    lock.lock()
    defer { lock.unlock() }
    if entries.count >= 200_000 { entries.removeAll(keepingCapacity: true) }
    entries[word] = pieces
  }
}
