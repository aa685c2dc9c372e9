/// A problem with an experiment config, naming where it came from, the key path, the value
/// and what is allowed.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file, `--set` argument or `defaults` the problem came from.
  public var source: String
  /// The dotted key path, empty for the document as a whole.
  public var path: String
  public var message: String

  public init(source: String, path: String, message: String) {
    self.source = source
    self.path = path
    self.message = message
  }

  public var description: String {
    let place = source.isEmpty ? "" : "\(source): "
    return path.isEmpty ? "\(place)config \(message)" : "\(place)config key '\(path)' \(message)"
  }
}

/// Several config problems reported together.
public struct ConfigErrors: Error, CustomStringConvertible, Sendable {
  public var errors: [ConfigError]

  public var description: String {
    errors.count == 1
      ? errors[0].description
      : "\(errors.count) config problems:\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
  }
}

/// A string-valued choice in a config: decoding a value outside the cases fails with a
/// message listing the allowed values.
public protocol ConfigChoice: RawRepresentable, CaseIterable, Codable, Sendable
where RawValue == String {
  /// Other names a config may give a choice by (another trainer's); the resolved config
  /// holds the choice's own name.
  static var aliases: [String: Self] { get }
}

extension ConfigChoice {
  public static var aliases: [String: Self] { [:] }

  public init(from decoder: any Decoder) throws {
    let raw = try decoder.singleValueContainer().decode(String.self)
    guard let value = Self(rawValue: raw) ?? Self.aliases[raw] else {
      let names = Self.allCases.map(\.rawValue) + Self.aliases.keys.sorted()
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription: "is \(JSONValue.quote(raw)); allowed: "
            + names.map(JSONValue.quote).joined(separator: ", ")))
    }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }
}

/// The edit distance between two strings, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.lowercased())
  let b = Array(b.lowercased())
  if a.isEmpty { return b.count }
  var previous = Array(0...b.count)
  for i in 1...a.count {
    var current = [i] + [Int](repeating: 0, count: b.count)
    for j in 1...max(b.count, 1) where j <= b.count {
      current[j] = min(
        previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.count]
}
