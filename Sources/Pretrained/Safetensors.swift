import Foundation
import TensorCore

/// A problem with a pretrained-weights file, naming the file and what is wrong.
public struct PretrainedFileError: Error, CustomStringConvertible, Equatable {
  /// The file (or directory) at fault.
  public var path: String
  /// What is wrong, in a sentence.
  public var problem: String

  public init(_ path: String, _ problem: String) {
    self.path = path
    self.problem = problem
  }

  public var description: String { "\(path): \(problem)" }
}

/// One `.safetensors` file: an 8-byte little-endian header length, a JSON header mapping
/// each tensor name to its dtype, shape (row-major, outermost first) and byte range, then
/// the data. Tensors are read on demand and converted to Float32 (F32, F16 and BF16).
public struct SafetensorsFile: Sendable {
  /// The element types Allot reads.
  public enum DType: String, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : 2 }
  }

  /// Where one tensor sits in the file.
  public struct Entry: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    /// Byte range within the data section (after the header).
    public var range: Range<Int>
  }

  public let path: String
  /// The tensors, by name.
  public let entries: [String: Entry]
  /// The header's `__metadata__` strings.
  public let metadata: [String: String]
  private let data: Data
  private let dataStart: Int

  /// Reads and checks the header of `url` (the data stays mapped, not copied).
  public init(url: URL) throws {
    path = url.path
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw PretrainedFileError(url.path, "cannot be read (\(Self.reason(error)))")
    }
    guard data.count >= 8 else {
      throw PretrainedFileError(path, "is \(data.count) bytes, too short for a safetensors header")
    }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    guard headerLength <= UInt64(data.count - 8) else {
      throw PretrainedFileError(
        path, "header length \(headerLength) runs past the end of the file (\(data.count) bytes)")
    }
    let start = 8 + Int(headerLength)
    let header: Any
    do {
      header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<start))
    } catch {
      throw PretrainedFileError(path, "header is not valid JSON")
    }
    guard let object = header as? [String: Any] else {
      throw PretrainedFileError(path, "header is not a JSON object")
    }
    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    let dataSize = data.count - start
    for (name, value) in object {
      if name == "__metadata__" {
        for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = "\(v)" }
        continue
      }
      guard let fields = value as? [String: Any], let typeName = fields["dtype"] as? String,
        let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int],
        offsets.count == 2
      else {
        throw PretrainedFileError(path, "tensor '\(name)' has no dtype, shape and data_offsets")
      }
      guard let dtype = DType(rawValue: typeName) else {
        throw PretrainedFileError(
          path, "tensor '\(name)' has dtype \(typeName); Allot reads F32, F16 and BF16")
      }
      let count = shape.reduce(1, *)
      guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] <= dataSize,
        offsets[1] - offsets[0] == count * dtype.size
      else {
        throw PretrainedFileError(
          path,
          "tensor '\(name)' (\(typeName) \(shape)) has data_offsets \(offsets) that do not fit "
            + "its shape or the file's \(dataSize) data bytes")
      }
      entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }
    self.entries = entries
    self.metadata = metadata
    self.data = data
    self.dataStart = start
  }

  /// The tensor `name` as Float32, in its stored shape.
  public func tensor(_ name: String) throws -> Tensor {
    guard let entry = entries[name] else {
      throw PretrainedFileError(path, "has no tensor '\(name)'")
    }
    let count = entry.shape.reduce(1, *)
    guard count > 0 else { return Tensor.zeros(entry.shape) }
    let type: GGMLType =
      switch entry.dtype {
      case .f32: .f32
      case .f16: .f16
      case .bf16: .bf16
      }
    let result = Tensor.zeros(entry.shape)
    result.withUnsafeMutableBufferPointer { out in
      data.withUnsafeBytes { raw in
        Dequantize.run(
          type, from: raw.baseAddress! + dataStart + entry.range.lowerBound, count: count,
          into: out.baseAddress!)
      }
    }
    return result
  }

  static func reason(_ error: Error) -> String {
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
      posix.domain == NSPOSIXErrorDomain,
      let message = strerror(Int32(posix.code))
    {
      return String(cString: message)
    }
    return ns.code == NSFileReadNoSuchFileError ? "no such file" : ns.localizedDescription
  }
}
