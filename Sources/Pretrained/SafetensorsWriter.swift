import Foundation
import TensorCore

/// Writes `.safetensors` files that the Python `safetensors` package and transformers read:
/// an 8-byte little-endian header length, a JSON header (names sorted, padded with spaces
/// to a multiple of 8 bytes), then each tensor's bytes in header order.
public enum SafetensorsWriter {
  /// Writes `tensors` as `dtype` (F32, or BF16 rounded to nearest even; F16 also) to `url`,
  /// through a temporary file renamed into place. `metadata` becomes `__metadata__`.
  public static func write(
    _ tensors: [String: Tensor], dtype: SafetensorsFile.DType = .f32,
    metadata: [String: String] = ["format": "pt"], to url: URL
  ) throws {
    let names = tensors.keys.sorted()
    var header = "{"
    if !metadata.isEmpty {
      header +=
        "\"__metadata__\":{"
        + metadata.keys.sorted().map { "\(quote($0)):\(quote(metadata[$0]!))" }.joined(
          separator: ",")
        + "},"
    }
    var offset = 0
    header += names.map { name -> String in
      let t = tensors[name]!
      let end = offset + t.count * dtype.size
      defer { offset = end }
      return "\(quote(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":\(t.shape),"
        + "\"data_offsets\":[\(offset),\(end)]}"
    }.joined(separator: ",")
    header += "}"
    var headerBytes = Array(header.utf8)
    headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
    var bytes = [UInt8]()
    bytes.reserveCapacity(8 + headerBytes.count + offset)
    bytes += (0..<8).map {
      UInt8(truncatingIfNeeded: UInt64(headerBytes.count) >> (8 * UInt64($0)))
    }
    bytes += headerBytes
    for name in names {
      tensors[name]!.withUnsafeBufferPointer { values in
        switch dtype {
        case .f32:
          for v in values { append(v.bitPattern, to: &bytes) }
        case .f16:
          for v in values { append(Float16(v).bitPattern, to: &bytes) }
        case .bf16:
          for v in values { append(bfloat16Bits(v), to: &bytes) }
        }
      }
    }
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).part")
    do {
      try Data(bytes).write(to: temporary)
      _ = try? FileManager.default.removeItem(at: url)
      try FileManager.default.moveItem(at: temporary, to: url)
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw PretrainedFileError(url.path, "cannot be written (\(SafetensorsFile.reason(error)))")
    }
  }

  /// The bfloat16 nearest to `v` (ties to even), NaN kept quiet — as torch converts.
  public static func bfloat16Bits(_ v: Float) -> UInt16 {
    let bits = v.bitPattern
    if v.isNaN { return UInt16(bits >> 16) | 0x0040 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(rounded >> 16)
  }

  private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  /// A JSON string literal.
  private static func quote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
