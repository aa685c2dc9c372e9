import Foundation

/// The phrases of a phrase list (`hicra.phrasesFile`, a preset, `allot mine`'s output): one
/// per line, trimmed; `#` starts a comment (`allot mine` writes each gram's support after
/// one); blank lines are skipped.
public func phraseLines(_ text: String) -> [String] {
  text.split(separator: "\n").map { line in
    let phrase = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
    return (phrase ?? "").trimmingCharacters(in: .whitespaces)
  }
  .filter { !$0.isEmpty }
}

/// Strategic-gram lists that ship with Allot, by name (`hicra.preset`, docs/hicra.md); each
/// is a data file in `Sources/GRPO/Resources` that states its provenance.
public enum StrategicGramPreset: String, Sendable, CaseIterable {
  /// No preset.
  case none
  /// General-English strategic grams of natural-language reasoning (planning, deduction,
  /// branching, backtracking and verification), listed by hand.
  case english

  /// The preset's phrases (none for `.none`).
  public func phrases() throws -> [String] {
    guard self != .none else { return [] }
    let name = "\(rawValue)-strategic-grams"
    guard let url = Bundle.module.url(forResource: name, withExtension: "txt"),
      let data = FileManager.default.contents(atPath: url.path)
    else {
      throw PresetError(
        description:
          "the strategic-gram preset '\(rawValue)' (\(name).txt) is missing from the build's resources"
      )
    }
    return phraseLines(String(decoding: data, as: UTF8.self))
  }
}

/// A preset whose data file cannot be read (a broken installation).
public struct PresetError: Error, CustomStringConvertible {
  public var description: String
}
