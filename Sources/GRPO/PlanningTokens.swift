import Foundation

/// Finds strategic-gram phrases in decoded text (HICRA's planning tokens, docs/hicra.md):
/// case-insensitive, on word boundaries (so "so" never matches inside "also"), any run of
/// whitespace matching any other, straight and curly apostrophes alike. Overlapping and
/// nested matches are unioned.
public struct PhraseMatcher: Sendable {
  /// The phrases, each as its words (already normalised).
  let phrases: [[[Character]]]
  public let phraseTexts: [String]

  public init(phrases: [String]) {
    var texts: [String] = []
    var split: [[[Character]]] = []
    for phrase in phrases {
      let words = Self.normalise(Array(phrase)).split(whereSeparator: \.isWhitespace).map(
        Array.init)
      guard !words.isEmpty else { continue }
      texts.append(phrase)
      split.append(words)
    }
    phraseTexts = texts
    self.phrases = split
  }

  static func normalise(_ chars: [Character]) -> [Character] {
    chars.map { c in
      if c == "\u{2019}" || c == "\u{2018}" || c == "`" { return "'" }
      let lower = c.lowercased()
      return lower.count == 1 ? Character(lower) : c
    }
  }

  static func isWordCharacter(_ c: Character) -> Bool {
    c.isLetter || c.isNumber || c == "_" || c == "'"
  }

  /// Every match as (phrase index, character range), in text order; for each start the
  /// longest phrase first.
  public func matches(in text: String) -> [(phrase: Int, range: Range<Int>)] {
    let chars = Self.normalise(Array(text))
    var out: [(Int, Range<Int>)] = []
    for start in chars.indices {
      for (p, words) in phrases.enumerated() {
        if let end = match(words, in: chars, at: start) { out.append((p, start..<end)) }
      }
    }
    return out
  }

  private func match(_ words: [[Character]], in chars: [Character], at start: Int) -> Int? {
    let first = words[0][0]
    if Self.isWordCharacter(first) && start > 0 && Self.isWordCharacter(chars[start - 1]) {
      return nil
    }
    var i = start
    for (w, word) in words.enumerated() {
      if w > 0 {
        // At least one whitespace character between words, any number.
        guard i < chars.count, chars[i].isWhitespace else { return nil }
        while i < chars.count && chars[i].isWhitespace { i += 1 }
      }
      guard i + word.count <= chars.count, Array(chars[i..<(i + word.count)]) == word else {
        return nil
      }
      i += word.count
    }
    let last = words.last!.last!
    if Self.isWordCharacter(last) && i < chars.count && Self.isWordCharacter(chars[i]) {
      return nil
    }
    return i
  }

  /// Per token: whether its character span overlaps a match. `tokenSpans[k]` is the
  /// character range of token k in `text` (empty for tokens without text, such as EOS).
  public func mask(text: String, tokenSpans: [Range<Int>]) -> [Bool] {
    var covered = [Bool](repeating: false, count: text.count + 1)
    for m in matches(in: text) { for c in m.range { covered[c] = true } }
    return tokenSpans.map { span in span.contains { covered[$0] } }
  }

  /// Occurrences per phrase, longest match first without double counting: a character
  /// belongs to at most one counted occurrence.
  public func occurrenceCounts(in texts: [String]) -> [Int: Int] {
    var counts: [Int: Int] = [:]
    for text in texts {
      let found = matches(in: text).sorted {
        $0.range.count != $1.range.count
          ? $0.range.count > $1.range.count : $0.range.lowerBound < $1.range.lowerBound
      }
      var used = Set<Int>()
      for m in found where !m.range.contains(where: used.contains) {
        counts[m.phrase, default: 0] += 1
        used.formUnion(m.range)
      }
    }
    return counts
  }
}

/// Marks windows of a token sequence equal to one of the given token-id n-grams, for
/// policies whose actions are not text.
public struct TokenGramMatcher: Sendable {
  public let grams: [[Int]]

  public init(grams: [[Int]]) { self.grams = grams.filter { !$0.isEmpty } }

  public func mask(_ tokens: [Int]) -> [Bool] {
    var out = [Bool](repeating: false, count: tokens.count)
    for gram in grams where gram.count <= tokens.count {
      for start in 0...(tokens.count - gram.count)
      where Array(tokens[start..<(start + gram.count)]) == gram {
        for k in start..<(start + gram.count) { out[k] = true }
      }
    }
    return out
  }
}

/// HICRA's rule: Â = A + α·|A| on planning tokens, A elsewhere (0 ≤ α < 1 keeps signs).
public func hicraAdvantages(_ advantage: Double, planning: [Bool], alpha: Double) -> [Double] {
  precondition(alpha >= 0 && alpha < 1, "hicraAdvantages: α = \(alpha) must lie in [0, 1)")
  return planning.map { $0 ? advantage + alpha * Swift.abs(advantage) : advantage }
}

/// −Σ f ln f over occurrence frequencies; NaN when there are no occurrences.
public func semanticEntropy(_ counts: [Int]) -> Double {
  let total = Double(counts.reduce(0, +))
  guard total > 0 else { return .nan }
  return -counts.filter { $0 > 0 }.reduce(0) { acc, c in
    let f = Double(c) / total
    return acc + f * Foundation.log(f)
  }
}

/// Builds a strategic-gram list from successful solutions: word n-grams (n in `sizes`),
/// grouped by identity (case- and whitespace-insensitive), ranked by the number of
/// distinct solutions containing them; the top `fraction` are kept (at least one).
public func mineStrategicGrams(
  from solutions: [String], sizes: ClosedRange<Int> = 3...5, fraction: Double = 0.2
) -> [(gram: String, solutions: Int)] {
  var support: [String: Int] = [:]
  for text in Set(solutions) {
    let words = text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
    var seen = Set<String>()
    for n in sizes where words.count >= n {
      for start in 0...(words.count - n) {
        seen.insert(words[start..<(start + n)].joined(separator: " "))
      }
    }
    for gram in seen { support[gram, default: 0] += 1 }
  }
  let ranked = support.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
  let keep = max(1, Int((Double(ranked.count) * fraction).rounded(.up)))
  return ranked.prefix(keep).map { ($0.key, $0.value) }
}
