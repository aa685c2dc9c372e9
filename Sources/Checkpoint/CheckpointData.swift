import CHDF5
import Foundation
import TensorCore

/// The contents of one checkpoint file: named Float32 tensors, Int64, UInt64 and Float64
/// arrays, and root attributes.
///
/// Names are paths inside the file: `model/blocks.0.attn.wq.weight` is the dataset
/// `blocks.0.attn.wq.weight` in group `/model`. Slashes make groups; dots stay inside
/// dataset names. See docs/checkpoint-format.md for the layout Allot's trainers use.
public struct CheckpointData {
  /// The format this build writes and reads.
  public static let formatVersion: Int64 = 1

  /// Float32 tensors of any rank (rank 0 is a scalar), by path, in order.
  public var tensors: [(String, Tensor)] = []
  /// One-dimensional Int64 arrays, by path.
  public var integers: [String: [Int64]] = [:]
  /// One-dimensional UInt64 arrays, by path.
  public var unsignedIntegers: [String: [UInt64]] = [:]
  /// One-dimensional Float64 arrays, by path.
  public var doubles: [String: [Double]] = [:]
  /// Root attributes. `write(to:)` adds `formatVersion` and `createdAt` unless they are set;
  /// Allot's trainers also set `step`, `config`, `model`, `kind` and `allotVersion`.
  public var attributes: [String: AttributeValue] = [:]
  /// The file this was read from; nil for data built in memory. Errors name it.
  public private(set) var source: String?

  /// Empty contents.
  public init() {}

  /// The tensor at `path`.
  public func tensor(_ path: String) -> Tensor? { tensors.first { $0.0 == path }?.1 }

  /// The tensors under group `prefix`, named relative to it (`model/fc.weight` → `fc.weight`).
  public func tensors(under prefix: String) -> [(String, Tensor)] {
    let lead = prefix.isEmpty ? "" : prefix + "/"
    return tensors.filter { $0.0.hasPrefix(lead) }.map {
      (String($0.0.dropFirst(lead.count)), $0.1)
    }
  }

  /// The `model` root attribute: the kind or fingerprint of the model that wrote the file.
  public var model: String? {
    if case .string(let model)? = attributes["model"] { model } else { nil }
  }

  // MARK: Writing

  /// Writes the checkpoint to `url` atomically: into a temporary file in the same folder,
  /// flushed, closed and fsynced, then renamed over `url`, and the folder fsynced. A
  /// failure leaves `url` as it was (absent, or the previous checkpoint) and removes the
  /// temporary file.
  public func write(to url: URL) throws {
    try write(to: url, afterEachDataset: { _ in })
  }

  /// `write(to:)` with a hook run after each dataset, through which tests interrupt a write.
  func write(to url: URL, afterEachDataset: (String) throws -> Void) throws {
    let target = url.standardizedFileURL
    let folder = target.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw CheckpointError(file: target.path, message: "its folder does not exist")
    }
    try checkNames(file: target.path)
    let temporary = folder.appendingPathComponent(
      ".\(target.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
    do {
      let file = try H5File.create(temporary.path, label: target.path)
      do {
        try writeContents(to: file, afterEachDataset: afterEachDataset)
        try file.flush()
      } catch {
        try? file.close()
        throw error
      }
      try file.close()
      try fsync(path: temporary.path, label: target.path)
      guard rename(temporary.path, target.path) == 0 else {
        throw CheckpointError(
          file: target.path,
          message: "cannot rename the finished temporary file into place (\(errorText()))")
      }
    } catch {
      unlink(temporary.path)
      throw error
    }
    try fsync(path: folder.path, label: folder.path)
  }

  private func writeContents(
    to file: H5File, afterEachDataset: (String) throws -> Void
  ) throws {
    for (name, tensor) in tensors {
      try tensor.withUnsafeBufferPointer { buffer in
        try file.writeDataset(
          "/" + name, shape: tensor.shape, type: allot_h5t_native_float(), buffer.baseAddress)
      }
      try afterEachDataset(name)
    }
    func writeArrays<T>(_ arrays: [String: [T]], _ type: hid_t) throws {
      for (name, values) in arrays.sorted(by: { $0.key < $1.key }) {
        try values.withUnsafeBufferPointer {
          try file.writeDataset("/" + name, shape: [values.count], type: type, $0.baseAddress)
        }
        try afterEachDataset(name)
      }
    }
    try writeArrays(integers, allot_h5t_native_int64())
    try writeArrays(unsignedIntegers, allot_h5t_native_uint64())
    try writeArrays(doubles, allot_h5t_native_double())
    var all = attributes
    if all["formatVersion"] == nil { all["formatVersion"] = .integer(Self.formatVersion) }
    if all["createdAt"] == nil {
      all["createdAt"] = .string(ISO8601DateFormatter().string(from: Date()))
    }
    for (name, value) in all.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
  }

  /// Refuses, before anything is written, names HDF5 cannot hold or that collide: every
  /// problem in one error.
  private func checkNames(file: String) throws {
    let names = tensors.map(\.0) + integers.keys + unsignedIntegers.keys + doubles.keys
    var problems: [String] = []
    var seen = Set<String>()
    for name in names {
      let parts = name.split(separator: "/", omittingEmptySubsequences: false)
      if parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
        problems.append("'\(name)' is not a valid path (empty, '.' or '..' parts)")
      } else if !seen.insert(name).inserted {
        problems.append("/\(name) is named twice")
      }
    }
    for name in seen.sorted() {
      let parts = name.split(separator: "/")
      for end in parts.indices.dropLast() {
        let group = parts[...end].joined(separator: "/")
        if seen.contains(group) {
          problems.append("/\(group) is a dataset and also the group of /\(name)")
        }
      }
    }
    for name in attributes.keys where name.isEmpty || name.contains("\0") {
      problems.append("attribute '\(name)' has an invalid name")
    }
    guard problems.isEmpty else {
      throw CheckpointError(
        file: file,
        message: problems.count == 1
          ? problems[0] : "bad names:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
    }
  }

  // MARK: Reading

  /// Reads every dataset and attribute of a checkpoint file and checks its format version.
  /// Reading everything also proves the file is complete.
  ///
  /// Float32 datasets become tensors; float64 ones `doubles`; signed integers (and unsigned
  /// ones narrower than 64 bits) `integers`; 64-bit unsigned integers `unsignedIntegers`.
  public static func read(from url: URL) throws -> CheckpointData {
    let path = url.path
    let file = try H5File.open(path)
    var data = CheckpointData()
    data.source = path
    for name in try file.attributeNames() { data.attributes[name] = try file.attribute(name) }
    guard let version = data.attributes["formatVersion"] else {
      throw CheckpointError(
        file: path, object: "@formatVersion", message: "missing: this is not an Allot checkpoint")
    }
    guard version == .integer(formatVersion) else {
      throw CheckpointError(
        file: path, object: "@formatVersion",
        message: "is \(version); this build reads format \(formatVersion)")
    }
    for name in try file.datasetPaths() {
      let key = String(name.dropFirst())
      try file.withDataset(name) { dataset in
        let kind = try dataset.kind()
        let shape = try dataset.shape()
        let count = shape.reduce(1, *)
        switch kind {
        case .float32:
          let tensor = Tensor.zeros(shape)
          try tensor.withUnsafeMutableBufferPointer {
            try dataset.read(as: kind, into: $0.baseAddress, count: count)
          }
          data.tensors.append((key, tensor))
        case .float64: data.doubles[key] = try readArray(dataset, kind, count)
        case .int64: data.integers[key] = try readArray(dataset, kind, count)
        case .uint64: data.unsignedIntegers[key] = try readArray(dataset, kind, count)
        }
      }
    }
    return data
  }

  private static func readArray<T: Numeric>(
    _ dataset: H5Dataset, _ kind: ElementKind, _ count: Int
  ) throws -> [T] {
    var values = [T](repeating: 0, count: count)
    try values.withUnsafeMutableBytes {
      try dataset.read(as: kind, into: $0.baseAddress, count: count)
    }
    return values
  }

  // MARK: Restoring

  /// Refuses a checkpoint written by another model: one whose `model` attribute is not
  /// `expected`.
  public func checkModel(_ expected: String) throws {
    guard let model else {
      throw CheckpointError(
        file: source ?? "checkpoint", object: "@model",
        message: "missing; expected model '\(expected)'")
    }
    guard model == expected else {
      throw CheckpointError(
        file: source ?? "checkpoint", object: "@model",
        message: "is '\(model)', but the model to restore is '\(expected)'")
    }
  }

  /// Copies the tensors under group `prefix` into `targets` (name relative to `prefix`,
  /// tensor) in place, strictly: every missing, unexpected or mis-shaped name is reported
  /// in one error, with its shape, and nothing is copied unless everything fits.
  ///
  /// - Parameters:
  ///   - model: when given, the checkpoint's `model` attribute must equal it.
  ///   - file: the name errors use; defaults to the file this was read from.
  public func restore(
    _ targets: [(String, Tensor)], prefix: String, model: String? = nil, file: String? = nil
  ) throws {
    let file = file ?? source ?? "checkpoint"
    if let model {
      do { try checkModel(model) } catch var error as CheckpointError {
        error.file = file
        throw error
      }
    }
    let lead = prefix.isEmpty ? "" : prefix + "/"
    let saved = Dictionary(tensors(under: prefix), uniquingKeysWith: { first, _ in first })
    var problems: [String] = []
    var wanted = Set<String>()
    for (name, target) in targets {
      guard wanted.insert(name).inserted else {
        problems.append("\(lead)\(name) is listed twice among the tensors to restore")
        continue
      }
      guard let source = saved[name] else {
        problems.append("missing \(lead)\(name) \(target.shape)")
        continue
      }
      if source.shape != target.shape {
        problems.append("\(lead)\(name) has shape \(source.shape), expected \(target.shape)")
      }
    }
    for name in saved.keys.sorted() where !wanted.contains(name) {
      problems.append("unexpected \(lead)\(name) \(saved[name]!.shape)")
    }
    guard problems.isEmpty else {
      throw CheckpointError(
        file: file, object: "/" + prefix,
        message: "does not fit (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
          + problems.map { "  - \($0)" }.joined(separator: "\n"))
    }
    for (name, target) in targets { target.assign(saved[name]!) }
  }
}

/// Flushes a file or directory to disk.
private func fsync(path: String, label: String) throws {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else {
    throw CheckpointError(file: label, message: "cannot open \(path) to fsync (\(errorText()))")
  }
  defer { close(fd) }
  guard Foundation.fsync(fd) == 0 else {
    throw CheckpointError(file: label, message: "fsync of \(path) failed (\(errorText()))")
  }
}

/// The text of the current `errno`.
func errorText() -> String {
  let code = errno
  guard let text = strerror(code) else { return "errno \(code)" }
  return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
}
