import Foundation

/// Text that is not the JSON expected, naming the file or argument it came from.
public struct JSONError: Error, CustomStringConvertible, Equatable, Sendable {
  public var source: String
  public var message: String

  public var description: String { source.isEmpty ? message : "\(source): \(message)" }
}

/// A JSON document as a tree, used to merge defaults, an experiment file and `--set`
/// overrides before decoding, and to name the exact key path of any problem.
public enum JSONValue: Equatable, Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// Parses JSON text; `source` names the file or argument in errors.
  public static func parse(_ data: Data, source: String) throws -> JSONValue {
    do {
      let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
      return try JSONValue(any: object)
    } catch let error as JSONError {
      throw JSONError(source: source, message: error.message)
    } catch {
      let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
      throw JSONError(source: source, message: "is not valid JSON: \(reason ?? "\(error)")")
    }
  }

  init(any: Any) throws {
    switch any {
    case is NSNull: self = .null
    case let n as NSNumber:
      // JSONSerialization gives booleans as NSNumber too; their type code is "c".
      if String(cString: n.objCType) == "c" {
        self = .bool(n.boolValue)
      } else if n is NSDecimalNumber {
        // Foundation reads fractions as decimals, whose doubleValue can miss the nearest
        // double by a unit in the last place; their text converts exactly.
        self = .number(Double(n.stringValue) ?? n.doubleValue)
      } else {
        self = .number(n.doubleValue)
      }
    case let s as String: self = .string(s)
    case let a as [Any]: self = .array(try a.map { try JSONValue(any: $0) })
    case let o as [String: Any]: self = .object(try o.mapValues { try JSONValue(any: $0) })
    default:
      throw JSONError(source: "", message: "holds an unsupported JSON value \(any)")
    }
  }

  /// Encodes any `Encodable` value as a tree.
  public init<T: Encodable>(encoding value: T) throws {
    let data = try JSONEncoder().encode(value)
    self = try JSONValue.parse(data, source: "\(T.self)")
  }

  /// Decodes the tree as `T`.
  public func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try JSONDecoder().decode(T.self, from: data())
  }

  /// JSON text with sorted keys; pretty-printed with two-space indentation.
  public func data(pretty: Bool = false) throws -> Data {
    var text = ""
    write(into: &text, pretty: pretty, indent: 0)
    return Data(text.utf8)
  }

  private func write(into out: inout String, pretty: Bool, indent: Int) {
    let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
    let closePad = pretty ? String(repeating: "  ", count: indent) : ""
    let newline = pretty ? "\n" : ""
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let n):
      if n.rounded() == n && Swift.abs(n) < 1e15 { out += String(Int64(n)) } else { out += "\(n)" }
    case .string(let s): out += JSONValue.quote(s)
    case .array(let items):
      if items.isEmpty { out += "[]"; return }
      let scalar = items.allSatisfy {
        if case .object = $0 { false } else if case .array = $0 { false } else { true }
      }
      if scalar || !pretty {
        out +=
          "["
          + items.map { v -> String in
            var s = ""
            v.write(into: &s, pretty: false, indent: 0)
            return s
          }.joined(separator: pretty ? ", " : ",") + "]"
        return
      }
      out += "[" + newline
      for (i, v) in items.enumerated() {
        out += pad
        v.write(into: &out, pretty: pretty, indent: indent + 1)
        out += (i < items.count - 1 ? "," : "") + newline
      }
      out += closePad + "]"
    case .object(let fields):
      if fields.isEmpty { out += "{}"; return }
      out += "{" + newline
      let keys = fields.keys.sorted()
      for (i, k) in keys.enumerated() {
        out += pad + JSONValue.quote(k) + (pretty ? ": " : ":")
        fields[k]!.write(into: &out, pretty: pretty, indent: indent + 1)
        out += (i < keys.count - 1 ? "," : "") + newline
      }
      out += closePad + "}"
    }
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// A short rendering for error messages.
  public var brief: String {
    switch self {
    case .null: "null"
    case .bool(let b): "\(b)"
    case .number: (try? String(decoding: data(), as: UTF8.self)) ?? "a number"
    case .string(let s): JSONValue.quote(s)
    case .array: "an array"
    case .object: "an object"
    }
  }

  /// Compact JSON text (`[64,64]`, `0.01`, `"relu"` without quotes for strings).
  public var compactText: String {
    if case .string(let s) = self { return s }
    return String(decoding: (try? data()) ?? Data(), as: UTF8.self)
  }

  /// The JSON kind, for error messages.
  public var kindName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }

  /// The value at a dotted key path, if present.
  public func value(at path: [String]) -> JSONValue? {
    guard let first = path.first else { return self }
    guard case .object(let fields) = self, let child = fields[first] else { return nil }
    return child.value(at: Array(path.dropFirst()))
  }

  /// This tree with `value` set at `path`, creating objects along the way.
  public func setting(_ value: JSONValue, at path: [String]) -> JSONValue {
    guard let first = path.first else { return value }
    var fields: [String: JSONValue] = [:]
    if case .object(let existing) = self { fields = existing }
    fields[first] = (fields[first] ?? .object([:])).setting(value, at: Array(path.dropFirst()))
    return .object(fields)
  }

  /// `overlay` laid over this tree: objects merge key by key, anything else replaces.
  public func merging(_ overlay: JSONValue) -> JSONValue {
    guard case .object(let base) = self, case .object(let top) = overlay else { return overlay }
    var fields = base
    for (k, v) in top { fields[k] = fields[k].map { $0.merging(v) } ?? v }
    return .object(fields)
  }
}
