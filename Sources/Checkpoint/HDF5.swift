import CHDF5
import Foundation

/// A failure reading or writing a checkpoint, naming the file and the object inside it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The checkpoint file or directory concerned.
  public var file: String
  /// The object path inside the file (`/model/fc.weight`, `@step` for a root attribute), or
  /// empty for the file itself.
  public var object: String
  /// What went wrong.
  public var message: String

  public init(file: String, object: String = "", message: String) {
    self.file = file
    self.object = object
    self.message = message
  }

  public var description: String {
    object.isEmpty ? "\(file): \(message)" : "\(file): \(object): \(message)"
  }
}

/// The number of HDF5 objects open in this process (files, groups, datasets, types…); a
/// leak check for tests.
public func openHDF5ObjectCount() -> Int {
  H5Library.enter()
  return Int(allot_h5_open_objects())
}

// Everything below is the only code that calls the HDF5 C API.

/// Library set-up.
enum H5Library {
  private static let opened: Bool = {
    H5open()
    return true
  }()

  /// Opens the library once and turns off automatic error printing for the calling thread
  /// (the thread-safe build keeps that setting per thread). Called before each use.
  static func enter() {
    _ = opened
    allot_h5_silence_errors()
  }

  /// The cause HDF5 recorded for the last failed call on this thread, or "" if none.
  static func lastError() -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    allot_h5_last_error(&buffer, buffer.count)
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// `message` with HDF5's cause of the last failure appended, when there is one.
  static func explained(_ message: String) -> String {
    let cause = lastError()
    return cause.isEmpty ? message : "\(message) (HDF5: \(cause))"
  }
}

/// An open HDF5 identifier that is closed exactly once: by `close()` or when released.
final class H5Handle {
  private(set) var id: hid_t
  private let closer: (hid_t) -> herr_t

  /// Wraps `id`, or throws `failure` when HDF5 returned an invalid identifier.
  init(
    _ id: hid_t, _ closer: @escaping (hid_t) -> herr_t,
    orThrow failure: @autoclosure () -> CheckpointError
  ) throws {
    guard id >= 0 else { throw failure() }
    self.id = id
    self.closer = closer
  }

  /// Closes the identifier now; false when HDF5 reported a failure.
  @discardableResult
  func close() -> Bool {
    guard id >= 0 else { return true }
    defer { id = -1 }
    return closer(id) >= 0
  }

  deinit { close() }
}

/// What a dataset holds, and how it is read into memory.
enum ElementKind {
  case float32, float64, int64, uint64

  var memoryType: hid_t {
    switch self {
    case .float32: allot_h5t_native_float()
    case .float64: allot_h5t_native_double()
    case .int64: allot_h5t_native_int64()
    case .uint64: allot_h5t_native_uint64()
    }
  }
}

/// Typed access to one HDF5 file.
final class H5File {
  /// The name errors use: the checkpoint's path (also while writing its temporary file).
  let label: String
  private let handle: H5Handle
  /// Where the elements of each dataset written so far lie in the file (absolute offset and
  /// length in bytes); empty datasets have none.
  private(set) var rawRanges: [(offset: Int, length: Int)] = []

  private init(label: String, handle: H5Handle) {
    self.label = label
    self.handle = handle
  }

  /// Closes the file before its properties go: the core driver's callbacks use `memory`.
  deinit { handle.close() }

  /// An error about `object` (a dataset path, or `@name` for an attribute) in this file.
  /// HDF5's recorded cause of the failure is appended to `message`.
  func failure(_ object: String, _ message: String) -> CheckpointError {
    CheckpointError(file: label, object: object, message: H5Library.explained(message))
  }

  /// An error about the file as a whole, with HDF5's recorded cause.
  func failure(_ message: String) -> CheckpointError {
    CheckpointError(file: label, message: H5Library.explained(message))
  }

  /// File-access properties: no HDF5 file locking. Checkpoints are never opened for writing
  /// once written (writers fill a fresh temporary file and rename it), so locks guard
  /// nothing, and a lock held through a descriptor inherited by a child process would make
  /// opening the file fail with EAGAIN.
  private static func accessProperties(label: String) throws -> H5Handle {
    let properties = try H5Handle(
      H5Pcreate(allot_h5p_file_access()), H5Pclose,
      orThrow: CheckpointError(file: label, message: "cannot create file-access properties"))
    guard H5Pset_file_locking(properties.id, false, true) >= 0 else {
      throw CheckpointError(file: label, message: "cannot turn off HDF5 file locking")
    }
    return properties
  }

  /// Creates a new file that lives in memory only (HDF5's core driver, no backing store);
  /// `imageAndClose()` hands back its bytes. `sizeHint` sets how much memory it grows by.
  /// `userBlock` (0, or a power of two ≥ 512) reserves that many bytes at the start.
  static func createInMemory(label: String, sizeHint: Int, userBlock: Int = 0) throws -> H5File {
    H5Library.enter()
    let access = try accessProperties(label: label)
    let creation = try H5Handle(
      H5Pcreate(allot_h5p_file_create()), H5Pclose,
      orThrow: CheckpointError(file: label, message: "cannot create file-creation properties"))
    if userBlock > 0, H5Pset_userblock(creation.id, hsize_t(userBlock)) < 0 {
      throw CheckpointError(
        file: label, message: H5Library.explained("cannot reserve a user block"))
    }
    guard H5Pset_fapl_core(access.id, max(sizeHint, 64 * 1024), false) >= 0 else {
      throw CheckpointError(
        file: label, message: H5Library.explained("cannot set up an in-memory HDF5 file"))
    }
    let memory = CoreMemory()
    var callbacks = H5FD_file_image_callbacks_t()
    callbacks.image_malloc = { size, _, _ in calloc(max(size, 1), 1) }
    callbacks.image_memcpy = { dest, source, size, _, _ in
      guard let dest, let source else { return dest }
      return memcpy(dest, source, size)
    }
    callbacks.image_realloc = { pointer, size, _, _ in realloc(pointer, max(size, 1)) }
    callbacks.image_free = { pointer, operation, context in
      // On close the buffer is kept: it is the file, written out from there.
      if operation == H5FD_FILE_IMAGE_OP_FILE_CLOSE, let context {
        let memory = Unmanaged<CoreMemory>.fromOpaque(context).takeUnretainedValue()
        if memory.buffer == nil, memory.keep {
          memory.buffer = pointer
          return 0
        }
      }
      free(pointer)
      return 0
    }
    callbacks.udata_copy = { context in context }
    callbacks.udata_free = { _ in 0 }
    callbacks.udata = Unmanaged.passUnretained(memory).toOpaque()
    guard H5Pset_file_image_callbacks(access.id, &callbacks) >= 0 else {
      throw CheckpointError(
        file: label, message: H5Library.explained("cannot set up an in-memory HDF5 file"))
    }
    let name = "allot-memory-\(getpid())-\(UUID().uuidString)"
    let id = H5Fcreate(name, allot_h5f_acc_excl(), creation.id, access.id)
    let handle = try H5Handle(
      id, H5Fclose,
      orThrow: CheckpointError(
        file: label, message: H5Library.explained("cannot create an in-memory HDF5 file")))
    let file = H5File(label: label, handle: handle)
    file.memory = memory
    return file
  }

  /// The buffer of an in-memory file (see `createInMemory`), taken over when it closes.
  final class CoreMemory {
    var buffer: UnsafeMutableRawPointer?
    var keep = false
    deinit { free(buffer) }
  }

  private var memory: CoreMemory?

  /// Closes an in-memory file made with a user block of `userBlock` bytes and hands its
  /// bytes, the user block included, to `body` without copying them.
  func closeInMemory<R>(userBlock: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R)
    throws -> R
  {
    guard let memory else { throw failure("is not an in-memory file") }
    defer { handle.close() }
    guard H5Fflush(handle.id, H5F_SCOPE_GLOBAL) >= 0 else { throw failure("flushing failed") }
    // The file ends where HDF5's image ends (the driver's buffer is larger, and only partly
    // written); the image leaves out the user block.
    let imageSize = H5Fget_file_image(handle.id, nil, 0)
    guard imageSize > 0 else { throw failure("cannot get the file's size") }
    let size = userBlock + imageSize
    memory.keep = true
    guard handle.close() else { throw failure("closing failed: the file may be incomplete") }
    guard let buffer = memory.buffer else { throw failure("lost its in-memory image") }
    return try withExtendedLifetime(memory) {
      try body(UnsafeMutableRawBufferPointer(start: buffer, count: Int(size)))
    }
  }

  /// The complete bytes of an in-memory file, which is then closed, after `headroom` zero
  /// bytes (room for a user block, which HDF5 leaves out of the image).
  func imageAndClose(headroom: Int = 0) throws -> [UInt8] {
    defer { handle.close() }
    guard H5Fflush(handle.id, H5F_SCOPE_GLOBAL) >= 0 else { throw failure("flushing failed") }
    let size = H5Fget_file_image(handle.id, nil, 0)
    guard size > 0 else { throw failure("cannot get the file's image") }
    var copied = -1
    let bytes = [UInt8](unsafeUninitializedCapacity: headroom + size) { buffer, count in
      if headroom > 0 { buffer.baseAddress!.initialize(repeating: 0, count: headroom) }
      copied = H5Fget_file_image(handle.id, buffer.baseAddress! + headroom, size)
      count = headroom + max(copied, 0)
    }
    guard copied == size else { throw failure("cannot get the file's image") }
    guard handle.close() else { throw failure("closing failed: the file may be incomplete") }
    return bytes
  }

  /// Opens a file read-only, telling apart a missing file, a non-HDF5 file and a damaged one.
  static func open(_ path: String) throws -> H5File {
    H5Library.enter()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw CheckpointError(file: path, message: "no such file")
    }
    if isDirectory.boolValue {
      throw CheckpointError(file: path, message: "is a directory, not a checkpoint file")
    }
    if H5Fis_hdf5(path) <= 0 {
      throw CheckpointError(file: path, message: "is not an HDF5 file (or its header is damaged)")
    }
    let access = try accessProperties(label: path)
    let id = H5Fopen(path, allot_h5f_acc_rdonly(), access.id)
    let handle = try H5Handle(
      id, H5Fclose,
      orThrow: CheckpointError(
        file: path,
        message: H5Library.explained("cannot be opened: the file is truncated or corrupt")))
    allot_h5_set_cloexec(handle.id)
    return H5File(label: path, handle: handle)
  }

  // MARK: Datasets

  /// Writes a dataset at `name` (a path from the root; missing groups are created) holding
  /// `shape.product` elements of `type` from `pointer`. An empty `shape` is a scalar.
  func writeDataset(
    _ name: String, shape: [Int], type: hid_t, _ pointer: UnsafeRawPointer?
  ) throws {
    let space = try dataspace(shape, object: name)
    let linkProperties = try H5Handle(
      H5Pcreate(allot_h5p_link_create()), H5Pclose,
      orThrow: failure(name, "cannot create link properties"))
    H5Pset_create_intermediate_group(linkProperties.id, 1)
    let dataset = try H5Handle(
      H5Dcreate2(
        handle.id, name, type, space.id, linkProperties.id, allot_h5p_default(),
        allot_h5p_default()),
      H5Dclose, orThrow: failure(name, "cannot create the dataset"))
    if shape.reduce(1, *) > 0 {
      let status = H5Dwrite(
        dataset.id, type, allot_h5s_all(), allot_h5s_all(), allot_h5p_default(), pointer)
      guard status >= 0 else { throw failure(name, "writing the data failed") }
      let offset = H5Dget_offset(dataset.id)
      let length = H5Dget_storage_size(dataset.id)
      if offset != haddr_t.max, length > 0 { rawRanges.append((Int(offset), Int(length))) }
    }
    guard dataset.close() else { throw failure(name, "closing the dataset failed") }
  }

  /// Opens the dataset at `name` and hands it to `body`.
  func withDataset<R>(_ name: String, _ body: (H5Dataset) throws -> R) throws -> R {
    let id = H5Dopen2(handle.id, name, allot_h5p_default())
    let dataset = H5Dataset(
      file: self, name: name,
      handle: try H5Handle(id, H5Dclose, orThrow: failure(name, "cannot open the dataset")))
    return try body(dataset)
  }

  /// Every dataset in the file, by full path (`/model/fc.weight`), in name order.
  func datasetPaths() throws -> [String] {
    final class Box { var paths: [String] = [] }
    let box = Box()
    let status = withExtendedLifetime(box) {
      H5Ovisit2(
        handle.id, H5_INDEX_NAME, H5_ITER_INC,
        { _, name, info, context in
          if let info, info.pointee.type == H5O_TYPE_DATASET, let name, let context {
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().paths.append(
              "/"
                + String(
                  decoding: UnsafeRawBufferPointer(start: name, count: strlen(name)), as: UTF8.self)
            )
          }
          return 0
        }, Unmanaged.passUnretained(box).toOpaque(), UInt32(H5O_INFO_BASIC))
    }
    guard status >= 0 else {
      throw failure("cannot list its contents: the file is truncated or corrupt")
    }
    return box.paths
  }

  private func dataspace(_ shape: [Int], object: String) throws -> H5Handle {
    guard shape.allSatisfy({ $0 >= 0 }) else { throw failure(object, "bad shape \(shape)") }
    let id =
      shape.isEmpty
      ? H5Screate(H5S_SCALAR)
      : H5Screate_simple(Int32(shape.count), shape.map { hsize_t($0) }, nil)
    return try H5Handle(id, H5Sclose, orThrow: failure(object, "bad shape \(shape)"))
  }

  // MARK: Root attributes

  /// Sets a root attribute (a scalar of its type; strings are variable-length UTF-8).
  func setAttribute(_ name: String, _ value: AttributeValue) throws {
    let object = "@" + name
    let scalar = try dataspace([], object: object)
    let type: H5Handle
    switch value {
    case .string: type = try utf8StringType(object)
    case .integer:
      type = try H5Handle(
        H5Tcopy(allot_h5t_native_int64()), H5Tclose, orThrow: failure(object, "no int64 type"))
    case .double:
      type = try H5Handle(
        H5Tcopy(allot_h5t_native_double()), H5Tclose, orThrow: failure(object, "no float64 type"))
    }
    let attribute = try H5Handle(
      H5Acreate2(handle.id, name, type.id, scalar.id, allot_h5p_default(), allot_h5p_default()),
      H5Aclose, orThrow: failure(object, "cannot create the attribute"))
    let status: herr_t
    switch value {
    case .string(let s):
      status = s.withCString { cString in
        var pointer: UnsafePointer<CChar>? = cString
        return H5Awrite(attribute.id, type.id, &pointer)
      }
    case .integer(var i): status = H5Awrite(attribute.id, type.id, &i)
    case .double(var d): status = H5Awrite(attribute.id, type.id, &d)
    }
    guard status >= 0, attribute.close() else { throw failure(object, "writing failed") }
  }

  /// The names of the root attributes, in name order.
  func attributeNames() throws -> [String] {
    var info = H5O_info_t()
    guard H5Oget_info2(handle.id, &info, UInt32(H5O_INFO_NUM_ATTRS)) >= 0 else {
      throw failure("cannot list its attributes: the file is truncated or corrupt")
    }
    return try (0..<Int(info.num_attrs)).map { i in
      let attribute = try H5Handle(
        H5Aopen_by_idx(
          handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), allot_h5p_default(),
          allot_h5p_default()),
        H5Aclose, orThrow: failure("cannot open attribute number \(i)"))
      let length = H5Aget_name(attribute.id, 0, nil)
      guard length >= 0 else { throw failure("cannot read the name of attribute number \(i)") }
      var buffer = [UInt8](repeating: 0, count: Int(length) + 1)
      buffer.withUnsafeMutableBufferPointer {
        $0.withMemoryRebound(to: CChar.self) {
          _ = H5Aget_name(attribute.id, $0.count, $0.baseAddress)
        }
      }
      return String(decoding: buffer.prefix(Int(length)), as: UTF8.self)
    }
  }

  /// Reads the root attribute `name`, which must hold a single string or number.
  func attribute(_ name: String) throws -> AttributeValue {
    let object = "@" + name
    let attribute = try H5Handle(
      H5Aopen(handle.id, name, allot_h5p_default()), H5Aclose,
      orThrow: failure(object, "missing attribute"))
    let space = try H5Handle(
      H5Aget_space(attribute.id), H5Sclose, orThrow: failure(object, "has no dataspace"))
    guard H5Sget_simple_extent_npoints(space.id) == 1 else {
      throw failure(object, "holds several values; Allot reads single strings and numbers")
    }
    let stored = try H5Handle(
      H5Aget_type(attribute.id), H5Tclose, orThrow: failure(object, "has no type"))
    let unreadable = failure(object, "cannot be read")
    switch H5Tget_class(stored.id) {
    case H5T_STRING:
      if H5Tis_variable_str(stored.id) > 0 {
        let memory = try utf8StringType(object)
        var pointer: UnsafeMutablePointer<CChar>? = nil
        guard H5Aread(attribute.id, memory.id, &pointer) >= 0 else { throw unreadable }
        guard let pointer else { return .string("") }
        defer { H5free_memory(pointer) }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
        return .string(String(decoding: bytes, as: UTF8.self))
      }
      let size = H5Tget_size(stored.id)
      var buffer = [UInt8](repeating: 0, count: size + 1)
      guard H5Aread(attribute.id, stored.id, &buffer) >= 0 else { throw unreadable }
      return .string(String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self))
    case H5T_INTEGER:
      var value: Int64 = 0
      guard H5Aread(attribute.id, allot_h5t_native_int64(), &value) >= 0 else { throw unreadable }
      return .integer(value)
    case H5T_FLOAT:
      var value: Double = 0
      guard H5Aread(attribute.id, allot_h5t_native_double(), &value) >= 0 else {
        throw unreadable
      }
      return .double(value)
    default:
      throw failure(object, "has a type Allot does not store")
    }
  }

  private func utf8StringType(_ object: String) throws -> H5Handle {
    let type = try H5Handle(
      H5Tcopy(allot_h5t_c_s1()), H5Tclose, orThrow: failure(object, "no string type"))
    guard H5Tset_size(type.id, allot_h5t_variable()) >= 0,
      H5Tset_cset(type.id, H5T_CSET_UTF8) >= 0
    else { throw failure(object, "no UTF-8 string type") }
    return type
  }
}

/// An open dataset of an `H5File`.
struct H5Dataset {
  let file: H5File
  let name: String
  let handle: H5Handle

  /// The element kind Allot reads it as: float32 and float64 as stored, signed integers (and
  /// unsigned ones narrower than 64 bits) as int64, 64-bit unsigned integers as uint64.
  func kind() throws -> ElementKind {
    let type = try H5Handle(
      H5Dget_type(handle.id), H5Tclose, orThrow: file.failure(name, "has no type"))
    let size = H5Tget_size(type.id)
    switch H5Tget_class(type.id) {
    case H5T_FLOAT where size == 4: return .float32
    case H5T_FLOAT where size == 8: return .float64
    case H5T_INTEGER where size == 8 && H5Tget_sign(type.id) == H5T_SGN_NONE: return .uint64
    case H5T_INTEGER where size <= 8: return .int64
    default:
      throw file.failure(name, "has an element type Allot does not store")
    }
  }

  /// The dataset's shape (`[]` for a scalar).
  func shape() throws -> [Int] {
    let space = try H5Handle(
      H5Dget_space(handle.id), H5Sclose, orThrow: file.failure(name, "has no dataspace"))
    let rank = Int(H5Sget_simple_extent_ndims(space.id))
    guard rank >= 0 else { throw file.failure(name, "has an unreadable shape") }
    var dims = [hsize_t](repeating: 0, count: max(rank, 1))
    guard H5Sget_simple_extent_dims(space.id, &dims, nil) >= 0 else {
      throw file.failure(name, "has an unreadable shape")
    }
    // Bounded before anything is allocated: a damaged or hostile header may declare any size.
    var count = 1
    for d in dims.prefix(rank) {
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(clamping: d))
      guard d <= hsize_t(Int.max), !overflow else {
        throw file.failure(name, "declares an impossible shape \(dims.prefix(rank).map { $0 })")
      }
      count = product
    }
    return dims.prefix(rank).map { Int($0) }
  }

  /// Refuses a dataset that declares more data than `limit` bytes (the file's size: Allot's
  /// datasets are stored contiguously, so none can hold more).
  func checkSize(count: Int, kind: ElementKind, limit: Int) throws {
    let width = kind == .float32 ? 4 : 8
    let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
    guard !overflow, bytes <= limit else {
      throw file.failure(
        name,
        "declares \(count) elements, more than the \(limit)-byte file can hold: the file is damaged"
      )
    }
  }

  /// Reads every element, converted to `kind`'s memory type, into `pointer`, which has room
  /// for all of them. Reads nothing from an empty dataset.
  func read(as kind: ElementKind, into pointer: UnsafeMutableRawPointer?, count: Int) throws {
    guard count > 0 else { return }
    let status = H5Dread(
      handle.id, kind.memoryType, allot_h5s_all(), allot_h5s_all(), allot_h5p_default(), pointer)
    guard status >= 0 else {
      throw file.failure(name, "cannot be read: the file is truncated or corrupt")
    }
  }
}

/// A root attribute value.
public enum AttributeValue: Equatable, Sendable, CustomStringConvertible {
  case string(String)
  case integer(Int64)
  case double(Double)

  public var description: String {
    switch self {
    case .string(let s): s
    case .integer(let i): "\(i)"
    case .double(let d): "\(d)"
    }
  }
}
