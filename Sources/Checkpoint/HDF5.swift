import CHDF5
import Foundation

/// A failure reading or writing a checkpoint, naming the file and the object inside it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
  public var file: String
  /// The object path inside the file (`/model/fc.weight`), or empty for the file itself.
  public var object: String
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

/// An open HDF5 identifier that is closed exactly once, when released.
final class H5Handle {
  let id: hid_t
  private let closer: (hid_t) -> herr_t

  init(_ id: hid_t, _ closer: @escaping (hid_t) -> herr_t) {
    self.id = id
    self.closer = closer
  }

  deinit { _ = closer(id) }
}

/// Thin, typed access to one HDF5 file: the only place that calls the C API.
final class H5File {
  let path: String
  let handle: H5Handle

  private static let initialised: Bool = {
    H5open()
    allot_h5_silence_errors()
    return true
  }()

  private init(path: String, id: hid_t) {
    self.path = path
    handle = H5Handle(id, H5Fclose)
  }

  /// Creates (truncating) a file.
  static func create(_ path: String) throws -> H5File {
    _ = initialised
    let id = H5Fcreate(path, allot_h5f_acc_trunc(), allot_h5p_default(), allot_h5p_default())
    guard id >= 0 else { throw CheckpointError(file: path, message: "cannot create the file") }
    return H5File(path: path, id: id)
  }

  /// Opens a file read-only, telling apart a missing file, a non-HDF5 file and a damaged one.
  static func open(_ path: String) throws -> H5File {
    _ = initialised
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
    let id = H5Fopen(path, allot_h5f_acc_rdonly(), allot_h5p_default())
    guard id >= 0 else {
      throw CheckpointError(
        file: path, message: "cannot be opened: the file is truncated or corrupt")
    }
    return H5File(path: path, id: id)
  }

  func flush() throws {
    guard H5Fflush(handle.id, H5F_SCOPE_GLOBAL) >= 0 else {
      throw CheckpointError(file: path, message: "flush failed")
    }
  }

  // MARK: Datasets

  /// Writes a dataset at `path` (groups created as needed) from `count` elements of `type`.
  func write(
    _ name: String, shape: [Int], type: hid_t, _ pointer: UnsafeRawPointer?
  ) throws {
    let space = try dataspace(shape, object: name)
    let lcpl = H5Handle(H5Pcreate(allot_h5p_link_create()), H5Pclose)
    H5Pset_create_intermediate_group(lcpl.id, 1)
    let dataset = H5Dcreate2(
      handle.id, name, type, space.id, lcpl.id, allot_h5p_default(), allot_h5p_default())
    guard dataset >= 0 else {
      throw CheckpointError(file: path, object: name, message: "cannot create the dataset")
    }
    let d = H5Handle(dataset, H5Dclose)
    if shape.reduce(1, *) > 0 {
      guard
        H5Dwrite(d.id, type, allot_h5s_all(), allot_h5s_all(), allot_h5p_default(), pointer) >= 0
      else {
        throw CheckpointError(file: path, object: name, message: "writing the data failed")
      }
    }
  }

  /// The element kind and shape of a dataset.
  func describe(_ name: String) throws -> (kind: ElementKind, shape: [Int]) {
    let d = try openDataset(name)
    let type = H5Handle(H5Dget_type(d.id), H5Tclose)
    let kind: ElementKind
    switch (H5Tget_class(type.id), H5Tget_size(type.id)) {
    case (H5T_FLOAT, 4): kind = .float32
    case (H5T_FLOAT, 8): kind = .float64
    case (H5T_INTEGER, 8): kind = .int64
    default:
      throw CheckpointError(
        file: path, object: name, message: "has an element type Allot does not store")
    }
    return (kind, try shape(of: d, name: name))
  }

  /// Reads a whole dataset into `pointer`, which holds room for every element.
  func read(_ name: String, type: hid_t, into pointer: UnsafeMutableRawPointer) throws {
    let d = try openDataset(name)
    if try shape(of: d, name: name).reduce(1, *) == 0 { return }
    guard H5Dread(d.id, type, allot_h5s_all(), allot_h5s_all(), allot_h5p_default(), pointer) >= 0
    else {
      throw CheckpointError(
        file: path, object: name, message: "cannot be read: the file is truncated or corrupt")
    }
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
              "/" + String(cString: name))
          }
          return 0
        }, Unmanaged.passUnretained(box).toOpaque(), UInt32(H5O_INFO_BASIC))
    }
    guard status >= 0 else {
      throw CheckpointError(
        file: path, message: "cannot list its contents: the file is truncated or corrupt")
    }
    return box.paths
  }

  private func openDataset(_ name: String) throws -> H5Handle {
    let id = H5Dopen2(handle.id, name, allot_h5p_default())
    guard id >= 0 else {
      throw CheckpointError(file: path, object: name, message: "no such dataset")
    }
    return H5Handle(id, H5Dclose)
  }

  private func shape(of d: H5Handle, name: String) throws -> [Int] {
    let space = H5Handle(H5Dget_space(d.id), H5Sclose)
    let rank = Int(H5Sget_simple_extent_ndims(space.id))
    guard rank >= 0 else {
      throw CheckpointError(file: path, object: name, message: "has an unreadable shape")
    }
    var dims = [hsize_t](repeating: 0, count: max(rank, 1))
    H5Sget_simple_extent_dims(space.id, &dims, nil)
    return dims.prefix(rank).map { Int($0) }
  }

  private func dataspace(_ shape: [Int], object: String) throws -> H5Handle {
    let id =
      shape.isEmpty
      ? H5Screate(H5S_SCALAR)
      : H5Screate_simple(Int32(shape.count), shape.map { hsize_t($0) }, nil)
    guard id >= 0 else {
      throw CheckpointError(file: path, object: object, message: "bad shape \(shape)")
    }
    return H5Handle(id, H5Sclose)
  }

  // MARK: Root attributes

  func setAttribute(_ name: String, _ value: AttributeValue) throws {
    let scalar = try dataspace([], object: "@" + name)
    let type: H5Handle
    switch value {
    case .string: type = H5Handle(utf8StringType(), H5Tclose)
    case .integer: type = H5Handle(H5Tcopy(allot_h5t_native_int64()), H5Tclose)
    case .double: type = H5Handle(H5Tcopy(allot_h5t_native_double()), H5Tclose)
    }
    let id = H5Acreate2(
      handle.id, name, type.id, scalar.id, allot_h5p_default(), allot_h5p_default())
    guard id >= 0 else {
      throw CheckpointError(file: path, object: "@" + name, message: "cannot create the attribute")
    }
    let attribute = H5Handle(id, H5Aclose)
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
    guard status >= 0 else {
      throw CheckpointError(file: path, object: "@" + name, message: "writing failed")
    }
  }

  func attributeNames() -> [String] {
    var info = H5O_info_t()
    guard H5Oget_info2(handle.id, &info, UInt32(H5O_INFO_NUM_ATTRS)) >= 0 else { return [] }
    return (0..<Int(info.num_attrs)).compactMap { i in
      let id = H5Aopen_by_idx(
        handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), allot_h5p_default(),
        allot_h5p_default())
      guard id >= 0 else { return nil }
      let attribute = H5Handle(id, H5Aclose)
      let length = H5Aget_name(attribute.id, 0, nil)
      guard length >= 0 else { return nil }
      var buffer = [CChar](repeating: 0, count: Int(length) + 1)
      H5Aget_name(attribute.id, buffer.count, &buffer)
      return String(
        decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
  }

  func attribute(_ name: String) throws -> AttributeValue {
    let id = H5Aopen(handle.id, name, allot_h5p_default())
    guard id >= 0 else {
      throw CheckpointError(file: path, object: "@" + name, message: "missing attribute")
    }
    let attribute = H5Handle(id, H5Aclose)
    let stored = H5Handle(H5Aget_type(attribute.id), H5Tclose)
    switch H5Tget_class(stored.id) {
    case H5T_STRING:
      let memory = H5Handle(utf8StringType(), H5Tclose)
      if H5Tis_variable_str(stored.id) > 0 {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        guard H5Aread(attribute.id, memory.id, &pointer) >= 0, let pointer else {
          throw CheckpointError(file: path, object: "@" + name, message: "cannot be read")
        }
        defer { H5free_memory(pointer) }
        return .string(String(cString: pointer))
      }
      let size = H5Tget_size(stored.id)
      var buffer = [CChar](repeating: 0, count: size + 1)
      let fixed = H5Handle(H5Tcopy(stored.id), H5Tclose)
      guard H5Aread(attribute.id, fixed.id, &buffer) >= 0 else {
        throw CheckpointError(file: path, object: "@" + name, message: "cannot be read")
      }
      let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
      return .string(String(decoding: bytes, as: UTF8.self))
    case H5T_INTEGER:
      var value: Int64 = 0
      guard H5Aread(attribute.id, allot_h5t_native_int64(), &value) >= 0 else {
        throw CheckpointError(file: path, object: "@" + name, message: "cannot be read")
      }
      return .integer(value)
    case H5T_FLOAT:
      var value: Double = 0
      guard H5Aread(attribute.id, allot_h5t_native_double(), &value) >= 0 else {
        throw CheckpointError(file: path, object: "@" + name, message: "cannot be read")
      }
      return .double(value)
    default:
      throw CheckpointError(
        file: path, object: "@" + name, message: "has a type Allot does not store")
    }
  }

  private func utf8StringType() -> hid_t {
    let type = H5Tcopy(allot_h5t_c_s1())
    H5Tset_size(type, allot_h5t_variable())
    H5Tset_cset(type, H5T_CSET_UTF8)
    return type
  }
}

/// What a dataset holds.
enum ElementKind { case float32, float64, int64 }

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

/// The number of HDF5 objects open in this process (files, groups, datasets, types…); a
/// leak check for tests.
public func openHDF5ObjectCount() -> Int { Int(allot_h5_open_objects()) }
