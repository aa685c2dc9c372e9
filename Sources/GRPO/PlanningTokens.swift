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
/// distinct solutions containing them (their document frequency); those in at least the
/// share `minDocumentFrequency` of the distinct solutions qualify, and the top `fraction`
/// of those are kept (at least one). `withoutDigits` leaves out n-grams with a digit (a
/// problem's numbers are execution, not strategy).
public func mineStrategicGrams(
  from solutions: [String], sizes: ClosedRange<Int> = 3...5, fraction: Double = 0.2,
  minDocumentFrequency: Double = 0, withoutDigits: Bool = false
) -> [(gram: String, solutions: Int)] {
  let groups = gramSupport(solutions, sizes: sizes, withoutDigits: withoutDigits).map {
    ([$0.gram], $0.solutions)
  }
  return rankedGroups(
    groups, of: solutions, fraction: fraction, minDocumentFrequency: minDocumentFrequency
  ).map { ($0.grams[0], $0.solutions) }
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
/// member and selected as n-grams are. Only the `limit` most supported n-grams are
/// grouped (the rest are too rare to be among the kept anyway). An n-gram whose embedding
/// is nil (say, a character the policy does not know) is skipped.
public func mineStrategicGramGroups(
  from solutions: [String], sizes: ClosedRange<Int> = 3...5, fraction: Double = 0.2,
  minDocumentFrequency: Double = 0, withoutDigits: Bool = false, similarity: Float,
  limit: Int = 5000, embedding: (String) -> [Float]?
) -> [StrategicGramGroup] {
  var groups: [(leader: [Float], grams: [String], solutions: Set<Int>)] = []
  let grams = embeddedGrams(solutions, sizes: sizes, withoutDigits, limit, embedding)
  for (gram, support, vector) in grams {
    var best: (index: Int, cosine: Float)? = nil
    for (i, group) in groups.enumerated() {
      let cosine = dot(group.leader, vector)
      if cosine >= similarity && cosine > (best?.cosine ?? -.infinity) { best = (i, cosine) }
    }
    if let best {
      groups[best.index].grams.append(gram)
      groups[best.index].solutions.formUnion(support)
    } else {
      groups.append((vector, [gram], support))
    }
  }
  return rankedGroups(
    groups.map { ($0.grams, $0.solutions) }, of: solutions, fraction: fraction,
    minDocumentFrequency: minDocumentFrequency)
}

/// Like `mineStrategicGramGroups`, but the groups are `clusters` k-means clusters of the
/// unit-length embeddings under cosine similarity (spherical k-means), as the HICRA paper
/// clusters n-grams before selecting them by document frequency. Deterministic: the first
/// centre is the most supported n-gram, each next one the n-gram least similar to every
/// centre so far (the more supported on ties); then assignments (to the most similar
/// centre, the lower index on ties) and centre updates (normalised member means; an empty
/// cluster keeps its centre) alternate until no assignment changes or after `iterations`.
/// Fewer n-grams than `clusters` make one cluster each.
public func mineStrategicGramClusters(
  from solutions: [String], sizes: ClosedRange<Int> = 3...5, fraction: Double = 0.2,
  minDocumentFrequency: Double = 0, withoutDigits: Bool = false, clusters: Int,
  iterations: Int = 100, limit: Int = 5000, embedding: (String) -> [Float]?
) -> [StrategicGramGroup] {
  precondition(clusters >= 1, "mineStrategicGramClusters: clusters = \(clusters) must be ≥ 1")
  let grams = embeddedGrams(solutions, sizes: sizes, withoutDigits, limit, embedding)
  guard !grams.isEmpty else { return [] }
  // Farthest-point initialisation.
  var centres = [grams[0].vector]
  var closest = grams.map { dot($0.vector, grams[0].vector) }
  while centres.count < min(clusters, grams.count) {
    let next = closest.indices.min { closest[$0] < closest[$1] }!
    centres.append(grams[next].vector)
    for i in grams.indices {
      closest[i] = max(closest[i], dot(grams[i].vector, grams[next].vector))
    }
  }
  var assignment = [Int](repeating: -1, count: grams.count)
  for _ in 0..<iterations {
    let assigned = grams.map { gram in
      centres.indices.max { a, b in
        let (ca, cb) = (dot(centres[a], gram.vector), dot(centres[b], gram.vector))
        return ca != cb ? ca < cb : a > b
      }!
    }
    if assigned == assignment { break }
    assignment = assigned
    for c in centres.indices {
      var sum = [Float](repeating: 0, count: centres[c].count)
      for (i, gram) in grams.enumerated() where assignment[i] == c {
        for j in sum.indices { sum[j] += gram.vector[j] }
      }
      let norm = dot(sum, sum).squareRoot()
      if norm > 0 { centres[c] = sum.map { $0 / norm } }
    }
  }
  let groups = centres.indices.compactMap { c -> ([String], Set<Int>)? in
    let members = grams.indices.filter { assignment[$0] == c }
    guard !members.isEmpty else { return nil }
    return (
      members.map { grams[$0].gram },
      members.reduce(into: Set<Int>()) { $0.formUnion(grams[$1].support) }
    )
  }
  return rankedGroups(
    groups, of: solutions, fraction: fraction, minDocumentFrequency: minDocumentFrequency)
}

/// The `limit` most supported n-grams with their supporting solutions and unit-length
/// embeddings (n-grams without an embedding left out).
private func embeddedGrams(
  _ solutions: [String], sizes: ClosedRange<Int>, _ withoutDigits: Bool, _ limit: Int,
  _ embedding: (String) -> [Float]?
) -> [(gram: String, support: Set<Int>, vector: [Float])] {
  gramSupport(solutions, sizes: sizes, withoutDigits: withoutDigits).prefix(limit).compactMap {
    gram, support in
    guard var vector = embedding(gram) else { return nil }
    let norm = dot(vector, vector).squareRoot()
    if norm > 0 { vector = vector.map { $0 / norm } }
    return (gram, support, vector)
  }
}

private func dot(_ a: [Float], _ b: [Float]) -> Float {
  zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Groups ranked by document frequency (the distinct solutions containing any member;
/// ties keep the given order), those in fewer than the share `minDocumentFrequency` of the
/// distinct solutions dropped, and the top `fraction` of the rest kept (at least one).
private func rankedGroups(
  _ groups: [(grams: [String], solutions: Set<Int>)], of solutions: [String], fraction: Double,
  minDocumentFrequency: Double
) -> [StrategicGramGroup] {
  let distinct = Double(Set(solutions).count)
  let ranked = groups.enumerated().sorted {
    $0.element.solutions.count != $1.element.solutions.count
      ? $0.element.solutions.count > $1.element.solutions.count : $0.offset < $1.offset
  }
  .map { StrategicGramGroup(grams: $0.element.grams, solutions: $0.element.solutions.count) }
  .filter { Double($0.solutions) >= minDocumentFrequency * distinct }
  return Array(ranked.prefix(keptCount(ranked.count, fraction)))
}

/// Every word n-gram of the distinct solutions (without a digit, if asked) with the indices
/// of the solutions that contain it, most supported first (ties by text).
private func gramSupport(_ solutions: [String], sizes: ClosedRange<Int>, withoutDigits: Bool) -> [(
  gram: String, solutions: Set<Int>
)] {
  var support: [String: Set<Int>] = [:]
  let distinct = Array(Set(solutions)).sorted()
  for (index, text) in distinct.enumerated() {
    let words = text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
    for n in sizes where words.count >= n {
      for start in 0...(words.count - n) {
        let gram = words[start..<(start + n)].joined(separator: " ")
        if withoutDigits && gram.contains(where: \.isNumber) { continue }
        support[gram, default: []].insert(index)
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
