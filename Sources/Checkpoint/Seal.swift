import Foundation

/// Checksums over a checkpoint's HDF5 structure, kept in the file's user block (the first
/// bytes, which HDF5 leaves to applications and h5py and h5dump skip), so that damaged
/// metadata is refused before HDF5 parses it: HDF5 1.10 can crash on a damaged object
/// header or heap (a fuzz test found such files; `h5dump` segfaults on them too).
///
/// The user block holds, little-endian 64-bit words after the magic `ALLOT-CKPT-SEAL1`: the
/// file's length, a checksum of the words that follow, the user block's size, the number n
/// of raw-data ranges, n pairs (offset, length) of the datasets' elements (each covered by
/// its own checksum in `@checksums`), and the checksums of the n + 1 stretches of metadata
/// before, between and after those ranges.
enum StructureSeal {
  static let magic = Array("ALLOT-CKPT-SEAL1".utf8)
  static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

  /// The user-block size for `datasets` datasets: a power of two, at least 512 (HDF5's rule).
  static func userBlockSize(datasets: Int) -> Int {
    var size = 512
    while size < 56 + 24 * datasets { size *= 2 }
    return size
  }

  /// The stretches of metadata: everything after the user block outside `ranges`, one
  /// (possibly empty) stretch before each range in offset order and one after the last.
  static func gaps(userBlock: Int, length: Int, ranges: [(offset: Int, length: Int)]) -> [Range<
    Int
  >] {
    var position = userBlock
    var out: [Range<Int>] = []
    for range in ranges.sorted(by: { $0.offset < $1.offset }) + [(length, 0)] {
      out.append(position..<max(position, range.offset))
      position = max(position, range.offset + range.length)
    }
    return out
  }

  /// The checksum of the header's words.
  static func headerChecksum(_ words: [UInt64]) -> UInt64 {
    words.reduce(0x5EA1) { Checksum.mix($0 ^ $1) }
  }

  /// Writes the seal into the user block: the first `userBlock` bytes of `image`, the whole
  /// file as HDF5's core driver holds it.
  static func seal(
    _ image: UnsafeMutableRawBufferPointer, userBlock: Int, ranges: [(offset: Int, length: Int)]
  ) {
    precondition(
      image.count >= userBlock + 8 && Array(image[userBlock..<(userBlock + 8)]) == hdf5Signature,
      "StructureSeal: no HDF5 superblock after the user block")
    let length = image.count
    let sums = gaps(userBlock: userBlock, length: length, ranges: ranges).map { gap in
      Checksum.of(UnsafeRawBufferPointer(rebasing: image[gap]))
    }
    let table = ranges.flatMap { [UInt64($0.offset), UInt64($0.length)] } + sums
    let tail = [UInt64(userBlock), UInt64(ranges.count)] + table
    var header = magic
    for value in [UInt64(length), headerChecksum([UInt64(length)] + tail)] + tail {
      withUnsafeBytes(of: value.littleEndian) { header += $0 }
    }
    precondition(header.count <= userBlock, "StructureSeal: user block too small")
    image.copyBytes(from: header + [UInt8](repeating: 0, count: userBlock - header.count))
  }

  /// Checks the seal of the file at `path` before HDF5 opens it, reading only the user block
  /// and the metadata. A file that starts with HDF5's signature has no seal (written before
  /// seals, or by another tool) and passes; returns whether the file was sealed.
  @discardableResult
  static func verify(path: String) throws -> Bool {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }  // H5File.open reports why
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
    let size = Int(info.st_size)
    func read(_ offset: Int, _ count: Int) throws -> [UInt8] {
      var buffer = [UInt8](repeating: 0, count: count)
      let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
      guard got == count else {
        throw CheckpointError(
          file: path, message: "is truncated or corrupt: cannot read \(count) bytes at \(offset)")
      }
      return buffer
    }
    func words(_ bytes: [UInt8]) -> [UInt64] {
      stride(from: 0, to: bytes.count - 7, by: 8).map { at in
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
      }
    }
    guard size >= 56 else { return false }
    let start = try read(0, 56)
    if Array(start.prefix(8)) == hdf5Signature { return false }
    let damagedSeal = CheckpointError(
      file: path, object: "user block",
      message: "damaged: the structure seal Allot writes there is unreadable")
    guard Array(start.prefix(16)) == magic else {
      // No HDF5 signature at the start: our user block, damaged, or not HDF5 at all.
      for offset in [512, 1024, 2048, 4096] where size >= offset + 8 {
        if try read(offset, 8) == hdf5Signature { throw damagedSeal }
      }
      return false
    }
    let head = words(Array(start[16...]))  // length, checksum, user block, n, first range word
    let (length, stored, userBlockWord, count) = (head[0], head[1], head[2], head[3])
    guard length == UInt64(size) else {
      throw CheckpointError(
        file: path,
        message:
          "cannot be opened: the file is truncated or corrupt (it has \(size) bytes, but was "
          + "written with \(length))")
    }
    guard count < 1 << 20, userBlockWord < UInt64(size), 56 + 24 * count <= userBlockWord else {
      throw damagedSeal
    }
    let n = Int(count)
    let table = words(try read(48, 16 * n + 8 * (n + 1)))
    guard headerChecksum([length, userBlockWord, count] + table) == stored else {
      throw damagedSeal
    }
    let userBlock = Int(userBlockWord)
    var ranges: [(offset: Int, length: Int)] = []
    for i in 0..<n {
      let (offset, extent) = (table[2 * i], table[2 * i + 1])
      guard offset >= userBlockWord, extent <= length, offset <= length - extent else {
        throw damagedSeal
      }
      ranges.append((Int(offset), Int(extent)))
    }
    for (gap, expected) in zip(
      gaps(userBlock: userBlock, length: size, ranges: ranges), table[(2 * n)...])
    {
      let bytes = try read(gap.lowerBound, gap.count)
      guard bytes.withUnsafeBytes({ Checksum.of($0) }) == expected else {
        throw CheckpointError(
          file: path, object: "HDF5 structure",
          message: "damaged between bytes \(gap.lowerBound) and \(gap.upperBound): the file's "
            + "metadata (groups, names, shapes, attributes) do not match the checksum stored "
            + "when it was written, so nothing in it is read")
      }
    }
    return true
  }
}
