/// One GGUF metadata value, of any of the format's thirteen value types.
public enum GGUFValue: Equatable, Sendable {
  case uint8(UInt8)
  case int8(Int8)
  case uint16(UInt16)
  case int16(Int16)
  case uint32(UInt32)
  case int32(Int32)
  case uint64(UInt64)
  case int64(Int64)
  case float32(Float)
  case float64(Double)
  case bool(Bool)
  case string(String)
  /// An array; GGUF arrays hold values of one type (arrays of arrays are allowed).
  case array([GGUFValue])

  /// The value as an `Int`, when it is an integer of any width that fits.
  public var int: Int? {
    switch self {
    case .uint8(let v): Int(v)
    case .int8(let v): Int(v)
    case .uint16(let v): Int(v)
    case .int16(let v): Int(v)
    case .uint32(let v): Int(v)
    case .int32(let v): Int(v)
    case .uint64(let v): Int(exactly: v)
    case .int64(let v): Int(v)
    default: nil
    }
  }

  /// The value as a `Double`, when it is a float or an integer.
  public var double: Double? {
    switch self {
    case .float32(let v): Double(v)
    case .float64(let v): v
    default: int.map(Double.init)
    }
  }

  public var string: String? {
    if case .string(let v) = self { v } else { nil }
  }

  public var bool: Bool? {
    if case .bool(let v) = self { v } else { nil }
  }

  public var array: [GGUFValue]? {
    if case .array(let v) = self { v } else { nil }
  }

  /// An array of strings (such as `tokenizer.ggml.tokens` or `.merges`).
  public var strings: [String]? { elements { $0.string } }

  /// An array of integers (such as `tokenizer.ggml.token_type`).
  public var ints: [Int]? { elements { $0.int } }

  /// An array of numbers (such as `tokenizer.ggml.scores`).
  public var doubles: [Double]? { elements { $0.double } }

  /// Every element of an array converted, nil when it is no array or one does not convert.
  private func elements<T>(_ convert: (GGUFValue) -> T?) -> [T]? {
    guard let array else { return nil }
    var out: [T] = []
    out.reserveCapacity(array.count)
    for element in array {
      guard let v = convert(element) else { return nil }
      out.append(v)
    }
    return out
  }

  /// The GGUF type name, for messages: `uint32`, `string`, `array of string`.
  public var typeName: String {
    switch self {
    case .uint8: "uint8"
    case .int8: "int8"
    case .uint16: "uint16"
    case .int16: "int16"
    case .uint32: "uint32"
    case .int32: "int32"
    case .uint64: "uint64"
    case .int64: "int64"
    case .float32: "float32"
    case .float64: "float64"
    case .bool: "bool"
    case .string: "string"
    case .array(let a): a.first.map { "array of \($0.typeName)" } ?? "empty array"
    }
  }
}

/// A GGUF file's metadata: the values by key, and accessors that require a key of a
/// type and throw a `PretrainedFileError` naming the file, the key and what was found.
public struct GGUFMetadata: Sendable {
  /// The file the metadata came from.
  public let path: String
  /// The values, by key.
  public let values: [String: GGUFValue]
  /// The keys in file order.
  public let keys: [String]

  public init(path: String, values: [String: GGUFValue], keys: [String]) {
    self.path = path
    self.values = values
    self.keys = keys
  }

  public subscript(key: String) -> GGUFValue? { values[key] }

  /// The value of `key`, converted by `convert`; throws when missing or of another type.
  public func require<T>(_ key: String, as kind: String, _ convert: (GGUFValue) -> T?) throws -> T {
    guard let value = values[key] else {
      throw PretrainedFileError(path, "metadata key '\(key)' is missing")
    }
    guard let converted = convert(value) else {
      throw PretrainedFileError(
        path, "metadata key '\(key)' is \(value.typeName), expected \(kind)")
    }
    return converted
  }

  /// The value of `key` converted by `convert`, nil when absent; throws when of another type.
  public func optional<T>(_ key: String, as kind: String, _ convert: (GGUFValue) -> T?) throws
    -> T?
  {
    values[key] == nil ? nil : try require(key, as: kind, convert)
  }

  public func string(_ key: String) throws -> String {
    try require(key, as: "a string") { $0.string }
  }

  public func int(_ key: String) throws -> Int { try require(key, as: "an integer") { $0.int } }

  public func double(_ key: String) throws -> Double {
    try require(key, as: "a number") { $0.double }
  }

  public func strings(_ key: String) throws -> [String] {
    try require(key, as: "an array of strings") { $0.strings }
  }

  public func ints(_ key: String) throws -> [Int] {
    try require(key, as: "an array of integers") { $0.ints }
  }

  public func doubles(_ key: String) throws -> [Double] {
    try require(key, as: "an array of numbers") { $0.doubles }
  }
}
