import CHDF5
import Foundation
import TensorCore

/// The contents of one checkpoint file: named Float32 tensors, Int64 and Float64 arrays,
/// and root attributes.
///
/// Names are paths inside the file: `model/blocks.0.attn.wq.weight` is the dataset
/// `blocks.0.attn.wq.weight` in group `/model` (dots stay in dataset names; slashes make
/// groups). See docs/checkpoint-format.md.
public struct CheckpointData {
  /// The format this build writes and reads.
  public static let formatVersion: Int64 = 1

  public var tensors: [(String, Tensor)] = []
  public var integers: [String: [Int64]] = [:]
  public var doubles: [String: [Double]] = [:]
  /// Root attributes. `write` adds `formatVersion` and `createdAt` unless they are set.
  public var attributes: [String: AttributeValue] = [:]

  public init() {}

  /// The tensor named `name`.
  public func tensor(_ name: String) -> Tensor? { tensors.first { $0.0 == name }?.1 }

  /// Writes the checkpoint to `url` atomically: into a temporary file in the same folder,
  /// flushed and fsynced, then renamed over `url`. A failure leaves `url` as it was.
  public func write(to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(
      ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
    )
    do {
      try writeUnsafely(to: temporary.path)
      try fsync(path: temporary.path)
      guard rename(temporary.path, url.path) == 0 else {
        throw CheckpointError(
          file: url.path,
          message:
            "cannot rename the finished temporary file into place (\(String(cString: strerror(errno))))"
        )
      }
      try fsync(path: folder.path)
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw error
    }
  }

  private func writeUnsafely(to path: String) throws {
    let names = tensors.map(\.0) + Array(integers.keys) + Array(doubles.keys)
    if let duplicate = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })
    {
      throw CheckpointError(file: path, object: "/" + duplicate.key, message: "is named twice")
    }
    let file = try H5File.create(path)
    for (name, tensor) in tensors {
      try tensor.withUnsafeBufferPointer { buffer in
        try file.write(
          "/" + name, shape: tensor.shape, type: allot_h5t_native_float(), buffer.baseAddress)
      }
    }
    for (name, values) in integers.sorted(by: { $0.key < $1.key }) {
      try values.withUnsafeBufferPointer {
        try file.write(
          "/" + name, shape: [values.count], type: allot_h5t_native_int64(), $0.baseAddress)
      }
    }
    for (name, values) in doubles.sorted(by: { $0.key < $1.key }) {
      try values.withUnsafeBufferPointer {
        try file.write(
          "/" + name, shape: [values.count], type: allot_h5t_native_double(), $0.baseAddress)
      }
    }
    var all = attributes
    if all["formatVersion"] == nil { all["formatVersion"] = .integer(Self.formatVersion) }
    if all["createdAt"] == nil {
      all["createdAt"] = .string(ISO8601DateFormatter().string(from: Date()))
    }
    for (name, value) in all.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
    try file.flush()
  }

  /// Reads every dataset and attribute of a checkpoint file, checking its format version.
  /// Reading everything also proves the file is complete.
  public static func read(from url: URL) throws -> CheckpointData {
    let path = url.path
    let file = try H5File.open(path)
    var data = CheckpointData()
    for name in file.attributeNames() { data.attributes[name] = try file.attribute(name) }
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
      let (kind, shape) = try file.describe(name)
      let count = shape.reduce(1, *)
      switch kind {
      case .float32:
        let tensor = Tensor.zeros(shape)
        try tensor.withUnsafeMutableBufferPointer { buffer in
          if count > 0 {
            try file.read(name, type: allot_h5t_native_float(), into: buffer.baseAddress!)
          }
        }
        data.tensors.append((key, tensor))
      case .int64:
        var values = [Int64](repeating: 0, count: count)
        if count > 0 {
          try values.withUnsafeMutableBytes {
            try file.read(name, type: allot_h5t_native_int64(), into: $0.baseAddress!)
          }
        }
        data.integers[key] = values
      case .float64:
        var values = [Double](repeating: 0, count: count)
        if count > 0 {
          try values.withUnsafeMutableBytes {
            try file.read(name, type: allot_h5t_native_double(), into: $0.baseAddress!)
          }
        }
        data.doubles[key] = values
      }
    }
    return data
  }

  /// Copies the tensors under `prefix/` into `targets` (local name → tensor) in place.
  /// Every missing, unexpected or mis-shaped entry is reported together in one error.
  public func restore(_ targets: [(String, Tensor)], prefix: String, file: String) throws {
    let saved = Dictionary(
      tensors.filter { $0.0.hasPrefix(prefix + "/") }.map {
        (String($0.0.dropFirst(prefix.count + 1)), $0.1)
      },
      uniquingKeysWith: { a, _ in a })
    var problems: [String] = []
    for (name, target) in targets {
      guard let source = saved[name] else {
        problems.append("missing \(prefix)/\(name) \(target.shape)")
        continue
      }
      if source.shape != target.shape {
        problems.append("\(prefix)/\(name) has shape \(source.shape), expected \(target.shape)")
      }
    }
    let expected = Set(targets.map(\.0))
    for name in saved.keys.sorted() where !expected.contains(name) {
      problems.append("unexpected \(prefix)/\(name) \(saved[name]!.shape)")
    }
    guard problems.isEmpty else {
      throw CheckpointError(
        file: file, object: "/" + prefix,
        message: "does not fit (\(problems.count) problems):\n"
          + problems.map { "  - \($0)" }.joined(separator: "\n"))
    }
    for (name, target) in targets { target.assign(saved[name]!) }
  }
}

/// Flushes a file or directory to disk.
private func fsync(path: String) throws {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else { throw CheckpointError(file: path, message: "cannot open for fsync") }
  defer { close(fd) }
  guard Foundation.fsync(fd) == 0 else {
    throw CheckpointError(file: path, message: "fsync failed")
  }
}
