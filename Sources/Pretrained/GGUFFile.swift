import Foundation
import TensorCore

/// A GGUF v3 file (ggml's `docs/gguf.md`): header, metadata, tensor table and the aligned
/// data section, memory-mapped. Every count, length and offset is checked against the
/// file's size; any problem is a `PretrainedFileError` naming the file.
public struct GGUFFile: Sendable {
  /// One entry of the tensor table.
  public struct TensorInfo: Sendable, Equatable {
    public var name: String
    /// The dimensions as the file lists them, innermost first.
    public var dimensions: [Int]
    /// The element type's number in the file (see `GGMLType`).
    public var typeCode: UInt32
    /// The data's offset from the start of the data section.
    public var offset: Int
    /// The data's length in bytes.
    public var byteCount: Int

    /// The element type, nil when the number is not one ggml defines.
    public var type: GGMLType? { GGMLType(rawValue: typeCode) }
    /// The row-major shape, outermost first: the file's dimensions reversed.
    public var shape: [Int] { dimensions.reversed() }
    /// The type's name for messages (`Q4_K`, or `99 (not a ggml type)`).
    public var typeName: String { type?.name ?? "\(typeCode) (not a ggml type)" }
  }

  public let path: String
  public let version: UInt32
  public let metadata: GGUFMetadata
  /// The tensor table, in file order.
  public let tensors: [TensorInfo]
  /// `general.alignment`, 32 when absent.
  public let alignment: Int
  /// Where the data section starts in the file.
  public let dataOffset: Int
  private let index: [String: Int]
  private let data: Data

  /// Maps `url` and reads its header, metadata and tensor table.
  public init(url: URL) throws {
    path = url.path
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw PretrainedFileError(path, "cannot be read (\(SafetensorsFile.reason(error)))")
    }
    let path = self.path
    let parsed = try data.withUnsafeBytes { raw in
      var reader = Reader(bytes: raw, path: path)
      return try reader.parseHeader()
    }
    version = parsed.version
    metadata = parsed.metadata
    tensors = parsed.tensors
    alignment = parsed.alignment
    dataOffset = parsed.dataOffset
    var index: [String: Int] = [:]
    for (i, t) in tensors.enumerated() { index[t.name] = i }
    self.index = index
  }

  /// The table entry of tensor `name`.
  public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

  /// Throws, naming the tensor and its type, unless Allot reads every tensor's type.
  public func checkTypesSupported() throws {
    for t in tensors where !(t.type?.isSupported ?? false) { throw unsupported(t) }
  }

  private func unsupported(_ t: TensorInfo) -> PretrainedFileError {
    PretrainedFileError(
      path,
      "tensor '\(t.name)' has type \(t.typeName), which Allot does not read; supported: "
        + GGMLType.supported.map(\.name).joined(separator: ", "))
  }

  /// The tensor `name` dequantised to Float32, in its row-major shape.
  public func tensor(_ name: String) throws -> Tensor {
    guard let info = info(name) else { throw PretrainedFileError(path, "has no tensor '\(name)'") }
    guard let type = info.type, type.isSupported else { throw unsupported(info) }
    let result = Tensor.zeros(info.shape)
    result.withUnsafeMutableBufferPointer { out in
      data.withUnsafeBytes { raw in
        Dequantize.run(
          type, from: raw.baseAddress! + dataOffset + info.offset, count: out.count,
          into: out.baseAddress!)
      }
    }
    return result
  }

  /// `ContentHash` of the whole file, as 16 hex digits.
  public func contentHash() -> String {
    data.withUnsafeBytes { ContentHash.hex(of: $0) }
  }
}

/// A bounds-checked little-endian cursor over the file's bytes.
private struct Reader {
  let bytes: UnsafeRawBufferPointer
  let path: String
  var at = 0

  struct Parsed {
    var version: UInt32
    var metadata: GGUFMetadata
    var tensors: [GGUFFile.TensorInfo]
    var alignment: Int
    var dataOffset: Int
  }

  func fail(_ problem: String) -> PretrainedFileError { PretrainedFileError(path, problem) }

  /// Throws unless `count` more bytes are there, saying what was being read.
  func need(_ count: Int, _ what: @autoclosure () -> String) throws {
    guard count >= 0, count <= bytes.count - at else {
      throw fail(
        "is truncated: \(what()) at byte \(at) needs \(count) bytes, \(bytes.count - at) remain"
          + " (file is \(bytes.count) bytes)")
    }
  }

  mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T
  {
    try need(MemoryLayout<T>.size, what())
    let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
    at += MemoryLayout<T>.size
    return v
  }

  /// A uint64 count or length that must fit in what remains at `minimumSize` bytes each.
  mutating func count(_ what: @autoclosure () -> String, minimumSize: Int) throws -> Int {
    let start = at
    let raw = try load(UInt64.self, what())
    guard raw <= UInt64(bytes.count - at) / UInt64(max(minimumSize, 1)) else {
      throw fail(
        "is truncated or corrupt: \(what()) at byte \(start) is \(raw), more than the "
          + "\(bytes.count - at) bytes left can hold")
    }
    return Int(raw)
  }

  mutating func string(_ what: @autoclosure () -> String) throws -> String {
    let length = try count("length of \(what())", minimumSize: 1)
    let slice = UnsafeRawBufferPointer(rebasing: bytes[at..<(at + length)])
    guard let s = String(validating: slice, as: UTF8.self) else {
      throw fail("\(what()) at byte \(at) is not valid UTF-8")
    }
    at += length
    return s
  }

  mutating func parseHeader() throws -> Parsed {
    try need(4, "the magic number")
    let magic = Array(bytes[0..<4])
    guard magic == Array("GGUF".utf8) else {
      throw fail(
        "is not a GGUF file: it starts with bytes \(magic.map { String(format: "%02x", $0) }.joined(separator: " ")), not 'GGUF'"
      )
    }
    at = 4
    let version = try load(UInt32.self, "the version")
    guard version == 3 else {
      throw fail("is GGUF version \(version); Allot reads version 3")
    }
    let tensorCount = try count("the tensor count", minimumSize: 24)
    let keyCount = try count("the metadata key count", minimumSize: 12)
    var values: [String: GGUFValue] = [:]
    var keys: [String] = []
    for k in 0..<keyCount {
      let key = try string("metadata key \(k)")
      guard values[key] == nil else { throw fail("metadata key '\(key)' appears twice") }
      let type = try load(UInt32.self, "the type of metadata key '\(key)'")
      values[key] = try value(type: type, key: key, depth: 0)
      keys.append(key)
    }
    let metadata = GGUFMetadata(path: path, values: values, keys: keys)
    var alignment = 32
    if let value = values["general.alignment"] {
      guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
        throw fail("metadata key 'general.alignment' is \(value), not a power of two as uint32")
      }
      alignment = Int(a)
    }
    var tensors: [GGUFFile.TensorInfo] = []
    var names = Set<String>()
    for t in 0..<tensorCount {
      let name = try string("the name of tensor \(t)")
      guard names.insert(name).inserted else { throw fail("tensor '\(name)' appears twice") }
      let rank = try load(UInt32.self, "the rank of tensor '\(name)'")
      guard (1...4).contains(rank) else {
        throw fail("tensor '\(name)' has \(rank) dimensions; GGUF allows 1 to 4")
      }
      var dimensions: [Int] = []
      var elements = 1
      for _ in 0..<rank {
        let d = try load(UInt64.self, "the dimensions of tensor '\(name)'")
        let (product, overflow) = elements.multipliedReportingOverflow(by: Int(clamping: d))
        guard d > 0, d < 1 << 40, !overflow else {
          throw fail("tensor '\(name)' has dimension \(d), which is not a usable size")
        }
        dimensions.append(Int(d))
        elements = product
      }
      let code = try load(UInt32.self, "the type of tensor '\(name)'")
      let offset = try load(UInt64.self, "the data offset of tensor '\(name)'")
      var byteCount = 0
      if let type = GGMLType(rawValue: code) {
        guard dimensions[0] % type.block.elements == 0 else {
          throw fail(
            "tensor '\(name)' has type \(type.name) (blocks of \(type.block.elements)) but its "
              + "innermost dimension is \(dimensions[0])")
        }
        byteCount = type.byteCount(elements: elements)
      }
      guard offset % UInt64(alignment) == 0, offset < 1 << 50 else {
        throw fail(
          "tensor '\(name)' has data offset \(offset), not a multiple of the alignment \(alignment)"
        )
      }
      tensors.append(
        .init(
          name: name, dimensions: dimensions, typeCode: code, offset: Int(offset),
          byteCount: byteCount))
    }
    let dataOffset = (at + alignment - 1) / alignment * alignment
    let dataSize = bytes.count - min(dataOffset, bytes.count)
    for t in tensors where t.offset + t.byteCount > dataSize {
      throw fail(
        "is truncated: tensor '\(t.name)' (\(t.typeName) \(t.shape)) needs data bytes "
          + "\(t.offset)..<\(t.offset + t.byteCount), but the data section has \(dataSize)")
    }
    return Parsed(
      version: version, metadata: metadata, tensors: tensors, alignment: alignment,
      dataOffset: dataOffset)
  }

  /// One value of GGUF type `type` (arrays recursively, at most 3 deep).
  mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
    let what = "the value of metadata key '\(key)'"
    switch type {
    case 0: return .uint8(try load(UInt8.self, what))
    case 1: return .int8(try load(Int8.self, what))
    case 2: return .uint16(try load(UInt16.self, what))
    case 3: return .int16(try load(Int16.self, what))
    case 4: return .uint32(try load(UInt32.self, what))
    case 5: return .int32(try load(Int32.self, what))
    case 6: return .float32(Float(bitPattern: try load(UInt32.self, what)))
    case 7:
      let b = try load(UInt8.self, what)
      guard b <= 1 else { throw fail("metadata key '\(key)' is a bool of value \(b), not 0 or 1") }
      return .bool(b == 1)
    case 8: return .string(try string(what))
    case 9:
      guard depth < 3 else { throw fail("metadata key '\(key)' nests arrays more than 3 deep") }
      let elementType = try load(UInt32.self, "the element type of metadata key '\(key)'")
      let sizes: [UInt32: Int] = [
        0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8,
      ]
      guard let size = sizes[elementType] else {
        throw fail("metadata key '\(key)' is an array of unknown value type \(elementType)")
      }
      let n = try count("the length of metadata key '\(key)'", minimumSize: size)
      var elements: [GGUFValue] = []
      elements.reserveCapacity(n)
      for _ in 0..<n { elements.append(try value(type: elementType, key: key, depth: depth + 1)) }
      return .array(elements)
    case 10: return .uint64(try load(UInt64.self, what))
    case 11: return .int64(try load(Int64.self, what))
    case 12: return .float64(Double(bitPattern: try load(UInt64.self, what)))
    default: throw fail("metadata key '\(key)' has unknown value type \(type)")
    }
  }
}
