import Foundation

/// Builds an `ExperimentConfig` from the defaults, an optional experiment file and `--set`
/// overrides (in that order), reporting every unknown key, wrong type and out-of-range
/// value by key path before anything is written.
public enum ConfigLoader {
  /// The resolved config. `defaults` is the bottom layer, named `defaultsSource` in errors
  /// (the built-in defaults, the quickstart, a resumed run's saved config).
  public static func resolve(
    file: String?, overrides: [String] = [], defaults: ExperimentConfig = ExperimentConfig(),
    defaultsSource: String = "defaults"
  ) throws -> ExperimentConfig {
    let schema = try JSONValue(encoding: defaults)
    var tree = schema
    var origins: [String: String] = [:]  // key path → where its value came from

    if let file {
      let url = URL(fileURLWithPath: file)
      guard let data = FileManager.default.contents(atPath: url.path) else {
        let exists = FileManager.default.fileExists(atPath: url.path)
        throw ConfigError(
          source: file, path: "",
          message: exists
            ? "cannot be read (is it a folder, or unreadable?)" : "file does not exist")
      }
      let document = try parseConfig(data, source: file)
      guard case .object = document else {
        throw ConfigError(
          source: file, path: "", message: "must be a JSON object, got \(document.kindName)")
      }
      if let version = document.value(at: ["schemaVersion"]),
        version != .number(Double(ExperimentConfig.currentSchemaVersion))
      {
        throw ConfigError(
          source: file, path: "schemaVersion",
          message:
            "is \(version.brief); this build reads version \(ExperimentConfig.currentSchemaVersion)"
        )
      }
      if isScenario(document, schema: schema) {
        throw ConfigError(
          source: file, path: "",
          message: "is a task-allocation scenario file, not an experiment config: play its "
            + "baselines with `allot baselines \(file)`, or train on it with an experiment whose "
            + "taskAllocation.scenario is \(JSONValue.quote(file)) (e.g. --set kind=taskAllocation "
            + "--set taskAllocation.scenario=\(file))")
      }
      var errors: [ConfigError] = []
      checkKeys(document, against: schema, root: schema, path: [], source: file, errors: &errors)
      if !errors.isEmpty { throw ConfigErrors(errors: errors) }
      for path in leafPaths(document) { origins[path.joined(separator: ".")] = file }
      tree = tree.merging(document)
    }

    for override in overrides {
      let source = "--set \(override)"
      guard let eq = override.firstIndex(of: "="), eq != override.startIndex else {
        throw ConfigError(
          source: source, path: "", message: "override must look like key.path=value")
      }
      let path = override[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(
        String.init)
      let text = String(override[override.index(after: eq)...])
      guard let target = schema.value(at: path) else {
        throw ConfigError(
          source: source, path: path.joined(separator: "."),
          message: "is not a config key" + suggestion(for: path, in: schema))
      }
      if case .object = target {
        throw ConfigError(
          source: source, path: path.joined(separator: "."),
          message: "is a section; set one of its keys: "
            + sectionKeys(target).map { "\(path.joined(separator: ".")).\($0)" }.joined(
              separator: ", "))
      }
      let value = parseOverride(text, target: target)
      tree = tree.setting(value, at: path)
      origins[path.joined(separator: ".")] = source
    }

    var errors: [ConfigError] = []
    checkTypes(tree, against: schema, path: [], origins: origins, errors: &errors)
    if !errors.isEmpty { throw ConfigErrors(errors: errors) }
    let config: ExperimentConfig
    do {
      config = try tree.decode(ExperimentConfig.self)
    } catch let error as DecodingError {
      throw describe(error, tree: tree, origins: origins)
    }
    try config.validate(source: defaultsSource, origins: origins)
    return config
  }

  /// Top-level fields only task-allocation scenario files have (docs/scenarios.md).
  static let scenarioFields: Set<String> = [
    "entities", "tasks", "taskQueue", "sites", "grid", "map", "oneStep", "optimum",
    "sequentialTrap", "conveyCost", "taskSlots", "refillEvery", "maxSteps", "decay",
    "decayAfterStale", "start",
  ]

  /// Whether `document` is a scenario file: none of its top-level keys is a config key, and
  /// some are scenario fields.
  static func isScenario(_ document: JSONValue, schema: JSONValue) -> Bool {
    guard case .object(let fields) = document, case .object(let known) = schema else {
      return false
    }
    return !fields.keys.contains { known[$0] != nil }
      && fields.keys.contains { scenarioFields.contains($0) }
  }

  /// Whether `data` is an experiment config rather than some other JSON file: an object
  /// whose top-level keys are all config sections or keys (`allot baselines` refuses it by
  /// name).
  public static func isExperimentConfig(_ data: Data) -> Bool {
    guard case .object(let fields)? = try? JSONValue.parse(data, source: ""), !fields.isEmpty,
      case .object(let known)? = try? JSONValue(encoding: ExperimentConfig())
    else { return false }
    return fields.keys.allSatisfy { known[$0] != nil }
  }

  /// Every leaf key path of the defaults: the keys docs/config.md must describe.
  public static func documentedKeyPaths() -> [String] {
    let schema = (try? JSONValue(encoding: ExperimentConfig())) ?? .object([:])
    return leafPaths(schema).map { $0.joined(separator: ".") }.sorted()
  }

  // MARK: - Checks

  static func checkKeys(
    _ value: JSONValue, against schema: JSONValue, root: JSONValue, path: [String], source: String,
    errors: inout [ConfigError]
  ) {
    guard case .object(let fields) = value, case .object(let known) = schema else { return }
    for key in fields.keys.sorted() {
      let here = path + [key]
      if let expected = known[key] {
        checkKeys(
          fields[key]!, against: expected, root: root, path: here, source: source, errors: &errors)
      } else {
        errors.append(
          ConfigError(
            source: source, path: here.joined(separator: "."),
            message: "is not a config key" + suggestion(for: here, in: root)))
      }
    }
  }

  static func checkTypes(
    _ value: JSONValue, against schema: JSONValue, path: [String], origins: [String: String],
    errors: inout [ConfigError]
  ) {
    let key = path.joined(separator: ".")
    func fail(_ expected: String) {
      errors.append(
        ConfigError(
          source: origins[key] ?? "defaults", path: key,
          message: "is \(value.brief); expected \(expected)"))
    }
    switch (schema, value) {
    case (.object(let known), .object(let fields)):
      for (k, v) in fields where known[k] != nil {
        checkTypes(v, against: known[k]!, path: path + [k], origins: origins, errors: &errors)
      }
    case (.object, _): fail("an object")
    case (.number, .number(let x)):
      if integerKeyPaths.contains(key) && !isWholeNumber(x) { fail(wholeNumber) }
    case (.bool, .bool), (.string, .string): break
    case (.number, _): fail("a number")
    case (.bool, _): fail("true or false")
    case (.string, _): fail("a string")
    case (.array(let items), .array(let given)):
      if let model = items.first {
        for (i, item) in given.enumerated() {
          var expected: String? = item.kindName != model.kindName ? model.kindName : nil
          if case .number(let x) = item, integerKeyPaths.contains(key), !isWholeNumber(x) {
            expected = wholeNumber
          }
          if let expected {
            errors.append(
              ConfigError(
                source: origins[key] ?? "defaults", path: "\(key)[\(i)]",
                message: "is \(item.brief); expected \(expected)"))
          }
        }
      }
    case (.array, _): fail("an array")
    case (.null, _): break
    }
  }

  static func describe(
    _ error: DecodingError, tree: JSONValue, origins: [String: String]
  ) -> ConfigError {
    func location(_ context: DecodingError.Context) -> (String, JSONValue?) {
      var path = ""
      var value: JSONValue? = tree
      for key in context.codingPath {
        if let index = key.intValue {
          path += "[\(index)]"
          if case .array(let items)? = value, index < items.count {
            value = items[index]
          } else {
            value = nil
          }
        } else {
          path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
          value = value?.value(at: [key.stringValue])
        }
      }
      return (path, value)
    }
    func origin(_ path: String) -> String {
      origins[String(path.prefix { $0 != "[" })] ?? "defaults"
    }
    switch error {
    case .dataCorrupted(let context):
      let (path, value) = location(context)
      let message =
        context.debugDescription.hasPrefix("is ")
        ? context.debugDescription
        : "is \(value?.brief ?? "invalid"); expected "
          + (value.map {
            if case .number = $0 { "a whole number" } else { "a valid value" }
          } ?? "a valid value")
      return ConfigError(source: origin(path), path: path, message: message)
    case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
      let (path, value) = location(context)
      let expected = type == Int.self ? "a whole number" : "\(type)"
      return ConfigError(
        source: origin(path), path: path,
        message: "is \(value?.brief ?? "missing"); expected \(expected)")
    case .keyNotFound(let key, let context):
      let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
      return ConfigError(source: "defaults", path: path, message: "is missing")
    @unknown default:
      return ConfigError(source: "", path: "", message: "could not be decoded: \(error)")
    }
  }

  /// Whether `x` is a whole number that a 64-bit Int holds.
  static func isWholeNumber(_ x: Double) -> Bool {
    x.rounded() == x && abs(x) < 9.2e18
  }
  static let wholeNumber = "a whole number (of at most 18 digits)"

  /// The numeric keys that hold whole numbers, found once by probing the decoder with a
  /// fraction at each numeric key (the JSON tree alone cannot tell 1 from 1.0).
  static let integerKeyPaths: Set<String> = {
    guard let schema = try? JSONValue(encoding: ExperimentConfig()) else { return [] }
    var found: Set<String> = []
    for path in leafPaths(schema) {
      let probe: JSONValue
      switch schema.value(at: path) {
      case .number?: probe = .number(0.5)
      case .array(let items)?
      where items.first.map({ if case .number = $0 { true } else { false } }) ?? false:
        probe = .array([.number(0.5)])
      default: continue
      }
      if (try? schema.setting(probe, at: path).decode(ExperimentConfig.self)) == nil {
        found.insert(path.joined(separator: "."))
      }
    }
    return found
  }()

  // MARK: - Helpers

  /// Parses a config document, reporting malformed JSON as a config error of `source`.
  static func parseConfig(_ data: Data, source: String) throws -> JSONValue {
    do {
      return try JSONValue.parse(data, source: source)
    } catch let error as JSONError {
      throw ConfigError(source: error.source, path: "", message: error.message)
    }
  }

  static func parseOverride(_ text: String, target: JSONValue) -> JSONValue {
    if case .string = target {
      // Strings are taken as typed; JSON quotes are optional.
      if let parsed = try? JSONValue.parse(Data(text.utf8), source: ""), case .string = parsed {
        return parsed
      }
      return .string(text)
    }
    return (try? JSONValue.parse(Data(text.utf8), source: "")) ?? .string(text)
  }

  static func leafPaths(_ value: JSONValue, prefix: [String] = []) -> [[String]] {
    guard case .object(let fields) = value else { return [prefix] }
    return fields.keys.sorted().flatMap { leafPaths(fields[$0]!, prefix: prefix + [$0]) }
  }

  static func sectionKeys(_ value: JSONValue) -> [String] {
    if case .object(let fields) = value { return fields.keys.sorted() }
    return []
  }

  /// "; did you mean 'x.y'?" for the closest known key at the same level, if close enough.
  static func suggestion(for path: [String], in schema: JSONValue) -> String {
    guard let last = path.last else { return "" }
    let parentPath = Array(path.dropLast())
    guard let parent = schema.value(at: parentPath), case .object(let fields) = parent else {
      // The parent itself is unknown: suggest among top-level sections.
      return suggestion(for: [path[0]], in: schema)
    }
    let ranked = fields.keys.map { ($0, editDistance($0, last)) }.sorted {
      ($0.1, $0.0) < ($1.1, $1.0)
    }
    guard let best = ranked.first, best.1 <= max(2, last.count / 3) else {
      return "; known keys here: " + fields.keys.sorted().joined(separator: ", ")
    }
    return "; did you mean '\((parentPath + [best.0]).joined(separator: "."))'?"
  }
}

extension ConfigLoader {
  /// Decodes a resolved config saved with a run or checkpoint. Keys added to the format
  /// since it was saved take their defaults.
  public static func decode(configJSON: String, source: String) throws -> ExperimentConfig {
    let saved = try parseConfig(Data(configJSON.utf8), source: source)
    let schema = try JSONValue(encoding: ExperimentConfig())
    var errors: [ConfigError] = []
    checkKeys(saved, against: schema, root: schema, path: [], source: source, errors: &errors)
    if !errors.isEmpty { throw ConfigErrors(errors: errors) }
    let tree = schema.merging(saved)
    do {
      let config = try tree.decode(ExperimentConfig.self)
      try config.validate(source: source)
      return config
    } catch let error as DecodingError {
      throw describe(error, tree: tree, origins: [:])
    }
  }

  /// The leaf key paths whose values differ between two configs.
  public static func differences(_ a: ExperimentConfig, _ b: ExperimentConfig) throws -> [String] {
    let (ta, tb) = (try JSONValue(encoding: a), try JSONValue(encoding: b))
    return Set(leafPaths(ta) + leafPaths(tb)).filter { ta.value(at: $0) != tb.value(at: $0) }
      .map { $0.joined(separator: ".") }.sorted()
  }
}

extension ConfigLoader {
  /// The config in a few lines for a run's start: each key that differs from the defaults
  /// as `key=value` (the notes left out), wrapped at `width` characters.
  public static func summary(_ config: ExperimentConfig, width: Int = 96) throws -> [String] {
    let tree = try JSONValue(encoding: config)
    let pairs = try differences(ExperimentConfig(), config).filter { $0 != "notes" }.map { key in
      "\(key)=\(tree.value(at: key.split(separator: ".").map(String.init))?.compactText ?? "?")"
    }
    guard !pairs.isEmpty else { return ["the defaults"] }
    var lines: [String] = []
    for pair in pairs {
      if let last = lines.last, last.count + pair.count + 2 <= width {
        lines[lines.count - 1] = last + ", " + pair
      } else {
        lines.append(pair)
      }
    }
    return lines
  }
}
