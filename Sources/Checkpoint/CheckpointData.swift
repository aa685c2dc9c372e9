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
  /// Whether `read(from:)` verified every object against the file's checksums.
  var verified = false

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
  ///
  /// The file is built in memory by HDF5 (its core driver) and written to disk by plain
  /// POSIX calls, so a full disk or another write failure is an error of Allot's own, never a
  /// failure inside HDF5 with half-closed handles.
  func write(
    to url: URL, afterEachDataset: (String) throws -> Void,
    writeBytes: (Int32, UnsafeRawBufferPointer) -> Int = { fd, chunk in
      Foundation.write(fd, chunk.baseAddress, chunk.count)
    }
  ) throws {
    let target = url.standardizedFileURL
    let folder = target.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw CheckpointError(file: target.path, message: "its folder does not exist")
    }
    if FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      throw CheckpointError(
        file: target.path,
        message: "a directory sits at this checkpoint's name; move or delete it, then retry")
    }
    try checkNames(file: target.path)
    let temporary = folder.appendingPathComponent(
      ".\(target.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
    releaseFreedHeapPages()
    do {  // the whole file, in memory, then written out from there
      let datasets = tensors.count + integers.count + unsignedIntegers.count + doubles.count
      let userBlock = StructureSeal.userBlockSize(datasets: datasets)
      let file = try H5File.createInMemory(
        label: target.path, sizeHint: byteEstimate + userBlock, userBlock: userBlock)
      try writeContents(to: file, afterEachDataset: afterEachDataset)
      let ranges = file.rawRanges
      try file.closeInMemory(userBlock: userBlock) { image in
        StructureSeal.seal(image, userBlock: userBlock, ranges: ranges)
        try writeFile(
          UnsafeRawBufferPointer(image), at: temporary, target: target, writeBytes: writeBytes)
      }
    }
    guard rename(temporary.path, target.path) == 0 else {
      let reason = errorText()
      unlink(temporary.path)
      throw CheckpointError(
        file: target.path,
        message: "cannot rename the finished temporary file into place (\(reason))")
    }
    try fsync(path: folder.path, label: folder.path)
  }

  /// About how many bytes the file takes: the data plus room for HDF5's metadata.
  private var byteEstimate: Int {
    let data =
      tensors.reduce(0) { $0 + $1.1.count * 4 } + integers.values.reduce(0) { $0 + $1.count * 8 }
      + unsignedIntegers.values.reduce(0) { $0 + $1.count * 8 }
      + doubles.values.reduce(0) { $0 + $1.count * 8 }
    let objects = tensors.count + integers.count + unsignedIntegers.count + doubles.count
    let attributeBytes = attributes.values.reduce(0) { $0 + $1.description.utf8.count }
    return data + objects * 1024 + attributeBytes * 2 + 64 * 1024
  }

  /// Writes `image` to a fresh `temporary` file (created exclusively) and fsyncs it; on any
  /// failure the temporary file is removed and the error says what to do.
  private func writeFile(
    _ image: UnsafeRawBufferPointer, at temporary: URL, target: URL,
    writeBytes: (Int32, UnsafeRawBufferPointer) -> Int
  ) throws {
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw CheckpointError(
        file: target.path, message: fileProblem(errno, creating: temporary, target: target))
    }
    var failure: CheckpointError?
    var offset = 0
    while offset < image.count {
      let chunk = UnsafeRawBufferPointer(
        rebasing: image[offset..<min(image.count, offset + (1 << 24))])
      let written = writeBytes(fd, chunk)
      if written < 0 && errno == EINTR { continue }
      if written <= 0 {
        let code = written < 0 ? errno : ENOSPC
        failure = CheckpointError(
          file: target.path, message: writeProblem(code, size: image.count, target: target))
        break
      }
      offset += written
    }
    if failure == nil, Foundation.fsync(fd) != 0 {
      failure = CheckpointError(
        file: target.path, message: writeProblem(errno, size: image.count, target: target))
    }
    if close(fd) != 0, failure == nil {
      failure = CheckpointError(
        file: target.path, message: writeProblem(errno, size: image.count, target: target))
    }
    if let failure {
      unlink(temporary.path)
      throw failure
    }
  }

  private func writeContents(
    to file: H5File, afterEachDataset: (String) throws -> Void
  ) throws {
    var manifest = IntegrityManifest()
    for (name, tensor) in tensors {
      try tensor.withUnsafeBufferPointer { buffer in
        manifest.entries["/" + name] = Checksum.of(UnsafeRawBufferPointer(buffer))
        try file.writeDataset(
          "/" + name, shape: tensor.shape, type: allot_h5t_native_float(), buffer.baseAddress)
      }
      try afterEachDataset(name)
    }
    func writeArrays<T>(_ arrays: [String: [T]], _ type: hid_t) throws {
      for (name, values) in arrays.sorted(by: { $0.key < $1.key }) {
        manifest.entries["/" + name] = Checksum.of(values)
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
    all[IntegrityManifest.attribute] = nil
    if all["formatVersion"] == nil { all["formatVersion"] = .integer(Self.formatVersion) }
    if all["createdAt"] == nil {
      all["createdAt"] = .string(ISO8601DateFormatter().string(from: Date()))
    }
    for (name, value) in all.sorted(by: { $0.key < $1.key }) {
      manifest.entries["@" + name] = IntegrityManifest.checksum(of: value)
      try file.setAttribute(name, value)
    }
    try file.setAttribute(IntegrityManifest.attribute, .string(manifest.text))
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
      } else if name.contains("\n") || name.contains("\0") {
        problems.append("'\(name)' contains a line break or NUL")
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
    for name in attributes.keys where name.isEmpty || name.contains("\0") || name.contains("\n") {
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
  ///
  /// A file with a `checksums` root attribute (every file Allot writes) is verified object by
  /// object: a dataset or attribute whose contents do not match, one that is missing, or one
  /// the manifest does not list is refused with an error naming it, so damage is never loaded
  /// silently. Files without the attribute (older builds, files rebuilt with h5py) load
  /// unverified; `isVerified` tells which.
  public static func read(from url: URL) throws -> CheckpointData {
    let path = url.path
    try StructureSeal.verify(path: path)  // before HDF5 parses anything
    let file = try H5File.open(path)
    var data = CheckpointData()
    data.source = path
    for name in try file.attributeNames() { data.attributes[name] = try file.attribute(name) }
    var manifest: IntegrityManifest?
    if let stored = data.attributes.removeValue(forKey: IntegrityManifest.attribute) {
      guard case .string(let text) = stored, let parsed = IntegrityManifest(parsing: text) else {
        throw CheckpointError(
          file: path, object: "@" + IntegrityManifest.attribute,
          message: "damaged: cannot be parsed, so nothing in the file can be verified")
      }
      manifest = parsed
      try verifyAttributes(data.attributes, against: parsed, file: path)
    }
    guard let version = data.attributes["formatVersion"] else {
      throw CheckpointError(
        file: path, object: "@formatVersion", message: "missing: this is not an Allot checkpoint")
    }
    guard version == .integer(formatVersion) else {
      throw CheckpointError(
        file: path, object: "@formatVersion",
        message: "is \(version); this build reads format \(formatVersion)")
    }
    let fileSize =
      (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? Int.max
    let names = try file.datasetPaths()
    if let manifest {
      let present = Set(names)
      let listed = manifest.entries.keys.filter { $0.hasPrefix("/") }
      if let missing = listed.sorted().first(where: { !present.contains($0) }) {
        throw CheckpointError(
          file: path, object: missing,
          message: "missing: the file's @checksums lists this dataset, so the file lost it")
      }
    }
    for name in names {
      let key = String(name.dropFirst())
      let expected = manifest?.entries[name]
      if manifest != nil, expected == nil {
        throw CheckpointError(
          file: path, object: name,
          message: "not listed in the file's @checksums: added after the file was written")
      }
      try file.withDataset(name) { dataset in
        let kind = try dataset.kind()
        let shape = try dataset.shape()
        let count = shape.reduce(1, *)
        try dataset.checkSize(count: count, kind: kind, limit: fileSize)
        var actual: UInt64 = 0
        switch kind {
        case .float32:
          let tensor = Tensor.zeros(shape)
          try tensor.withUnsafeMutableBufferPointer {
            try dataset.read(as: kind, into: $0.baseAddress, count: count)
            if expected != nil { actual = Checksum.of(UnsafeRawBufferPointer($0)) }
          }
          data.tensors.append((key, tensor))
        case .float64:
          let values: [Double] = try readArray(dataset, kind, count)
          if expected != nil { actual = Checksum.of(values) }
          data.doubles[key] = values
        case .int64:
          let values: [Int64] = try readArray(dataset, kind, count)
          if expected != nil { actual = Checksum.of(values) }
          data.integers[key] = values
        case .uint64:
          let values: [UInt64] = try readArray(dataset, kind, count)
          if expected != nil { actual = Checksum.of(values) }
          data.unsignedIntegers[key] = values
        }
        if let expected, actual != expected {
          throw CheckpointError(
            file: path, object: name,
            message: "damaged: its data do not match the checksum stored when it was written "
              + "(stored \(Checksum.hex(expected)), read \(Checksum.hex(actual)))")
        }
      }
    }
    data.verified = manifest != nil
    return data
  }

  /// Checks every root attribute against the manifest: each listed, present and unchanged.
  private static func verifyAttributes(
    _ attributes: [String: AttributeValue], against manifest: IntegrityManifest, file: String
  ) throws {
    for name in attributes.keys.sorted() {
      guard let expected = manifest.entries["@" + name] else {
        throw CheckpointError(
          file: file, object: "@" + name,
          message: "not listed in the file's @checksums: added after the file was written")
      }
      if IntegrityManifest.checksum(of: attributes[name]!) != expected {
        throw CheckpointError(
          file: file, object: "@" + name,
          message: "damaged: its value does not match the checksum stored when it was written")
      }
    }
    let listed = manifest.entries.keys.filter { $0.hasPrefix("@") }.sorted()
    if let missing = listed.first(where: { attributes[String($0.dropFirst())] == nil }) {
      throw CheckpointError(
        file: file, object: missing,
        message: "missing: the file's @checksums lists this attribute, so the file lost it")
    }
  }

  /// Reads only the root attributes of a checkpoint file (quick; nothing is verified): enough
  /// to tell which run and model wrote it.
  public static func readAttributes(from url: URL) throws -> [String: AttributeValue] {
    let file = try H5File.open(url.path)
    var attributes: [String: AttributeValue] = [:]
    for name in try file.attributeNames() { attributes[name] = try file.attribute(name) }
    attributes[IntegrityManifest.attribute] = nil
    return attributes
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

/// Allot's words for a failure to create the temporary file of `target`.
func fileProblem(_ code: Int32, creating temporary: URL, target: URL) -> String {
  let folder = target.deletingLastPathComponent().path
  switch code {
  case EACCES, EPERM:
    return "cannot write in \(folder): permission denied; make the folder writable or choose "
      + "another output folder"
  case EROFS:
    return "cannot write in \(folder): the file system is read-only; choose another output folder"
  case ENAMETOOLONG:
    return "the name is too long for this file system (the temporary file "
      + "\(temporary.lastPathComponent) has \(temporary.lastPathComponent.utf8.count) bytes; "
      + "most file systems allow 255): choose a shorter run name or output folder"
  case ENOSPC, EDQUOT:
    return "cannot create a file in \(folder): the disk is full (or over quota); free space, "
      + "then resume: the previous checkpoint is intact"
  case ENOENT, ENOTDIR:
    return "its folder \(folder) no longer exists"
  default:
    return "cannot create the temporary file \(temporary.path) (\(posixText(code)))"
  }
}

/// Allot's words for a failure to write or fsync a checkpoint of `size` bytes.
func writeProblem(_ code: Int32, size: Int, target: URL) -> String {
  let folder = target.deletingLastPathComponent().path
  switch code {
  case ENOSPC, EDQUOT:
    return "the disk is full (or over quota): \(size) bytes did not fit in \(folder); nothing "
      + "was replaced and the previous checkpoint is intact; free space, then resume"
  case EIO:
    return "the disk reported an I/O error while writing \(size) bytes in \(folder); the "
      + "previous checkpoint is intact; check the disk"
  default:
    return "writing \(size) bytes in \(folder) failed (\(posixText(code))); the previous "
      + "checkpoint is intact"
  }
}

/// The text of an `errno` value.
func posixText(_ code: Int32) -> String {
  guard let text = strerror(code) else { return "errno \(code)" }
  return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
}

/// The text of the current `errno`.
func errorText() -> String { posixText(errno) }

/// Returns the heap's free pages to the system before the file's image is built: a training
/// step's freed activations would otherwise stay resident beside the image (on SmolLM2 the
/// image is 1.6 GB, and a GRPO step's activations leave about 0.8 GB behind).
private func releaseFreedHeapPages() { allot_release_free_heap_pages() }
