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
  let ranked = gramSupport(solutions, sizes: sizes).map { ($0.gram, $0.solutions.count) }
  return Array(ranked.prefix(keptCount(ranked.count, fraction)))
}

/// N-grams that mean nearly the same to the policy, mined as one strategic pattern.
public struct StrategicGramGroup: Equatable, Sendable {
  /// The members, most supported first (the first is the group's leader).
  public var grams: [String]
  /// The number of distinct solutions that contain at least one member.
  public var solutions: Int

  public init(grams: [String], solutions: Int) {
    self.grams = grams
    self.solutions = solutions
  }
}

/// Like `mineStrategicGrams`, but n-grams whose embeddings (`embedding`, e.g. the mean of
/// the policy's token embeddings) have cosine similarity ≥ `similarity` to a group's
/// leader join that group: most supported n-grams first, each to the most similar leader
/// or else as a new leader. Groups are ranked by the distinct solutions containing any
/// member; the top `fraction` are kept. Only the `limit` most supported n-grams are
/// grouped (the rest are too rare to be among the kept anyway). An n-gram whose embedding
/// is nil (say, a character the policy does not know) is skipped.
public func mineStrategicGramGroups(
  from solutions: [String], sizes: ClosedRange<Int> = 3...5, fraction: Double = 0.2,
  similarity: Float, limit: Int = 5000, embedding: (String) -> [Float]?
) -> [StrategicGramGroup] {
  var groups: [(leader: [Float], grams: [String], solutions: Set<Int>)] = []
  for (gram, support) in gramSupport(solutions, sizes: sizes).prefix(limit) {
    guard var vector = embedding(gram) else { continue }
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    if norm > 0 { vector = vector.map { $0 / norm } }
    var best: (index: Int, cosine: Float)? = nil
    for (i, group) in groups.enumerated() {
      let cosine = zip(group.leader, vector).reduce(0) { $0 + $1.0 * $1.1 }
      if cosine >= similarity && cosine > (best?.cosine ?? -.infinity) { best = (i, cosine) }
    }
    if let best {
      groups[best.index].grams.append(gram)
      groups[best.index].solutions.formUnion(support)
    } else {
      groups.append((vector, [gram], support))
    }
  }
  let ranked = groups.enumerated().sorted {
    $0.element.solutions.count != $1.element.solutions.count
      ? $0.element.solutions.count > $1.element.solutions.count : $0.offset < $1.offset
  }.map { StrategicGramGroup(grams: $0.element.grams, solutions: $0.element.solutions.count) }
  return Array(ranked.prefix(keptCount(ranked.count, fraction)))
}

/// Every word n-gram of the distinct solutions with the indices of the solutions that
/// contain it, most supported first (ties by text).
private func gramSupport(_ solutions: [String], sizes: ClosedRange<Int>) -> [(
  gram: String, solutions: Set<Int>
)] {
  var support: [String: Set<Int>] = [:]
  let distinct = Array(Set(solutions)).sorted()
  for (index, text) in distinct.enumerated() {
    let words = text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
    for n in sizes where words.count >= n {
      for start in 0...(words.count - n) {
        support[words[start..<(start + n)].joined(separator: " "), default: []].insert(index)
      }
    }
  }
  return support.map { ($0.key, $0.value) }.sorted {
    $0.solutions.count != $1.solutions.count
      ? $0.solutions.count > $1.solutions.count : $0.gram < $1.gram
  }
}

/// How many of `count` ranked items the top `fraction` keeps (at least one when any).
private func keptCount(_ count: Int, _ fraction: Double) -> Int {
  min(count, max(1, Int((Double(count) * fraction).rounded(.up))))
}
