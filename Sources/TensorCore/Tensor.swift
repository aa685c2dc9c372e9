import CKernels
import Synchronization

/// The buffer behind one or more tensors. Reshapes and `detach()` share it.
final class Storage: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Float>
  let count: Int

  init(count: Int) {
    _ = Storage.allocatorConfigured
    self.count = count
    pointer = LargeBuffers.take(count) ?? .allocate(capacity: max(count, 1))
  }

  /// Training allocates and frees the same large buffers every step. glibc serves
  /// buffers over 128 KiB with fresh mmap pages (a page fault per 4 KiB on first touch)
  /// and returns them on free; keeping them in the heap instead removes that cost.
  /// Set once per process, on the first tensor.
  private static let allocatorConfigured: Bool = {
    allot_configure_allocator()
    return true
  }()

  deinit {
    if !LargeBuffers.keep(pointer, count: count) { pointer.deallocate() }
  }
}

/// Buffers too large for glibc's heap (over 32 MiB, which glibc always maps afresh, so
/// that the kernel zeroes every page on first touch) are kept on release and handed out
/// again for the same size: a GRPO update allocates the same few such buffers every step.
/// At most `limit` bytes are kept.
enum LargeBuffers {
  /// The smallest buffer kept, in floats (32 MiB).
  static let minimum = 8 << 20
  /// The most kept at once, in bytes.
  static let limit = 2 << 30
  private static let pool = Mutex<(kept: [Int: [UInt]], bytes: Int)>(([:], 0))

  static func take(_ count: Int) -> UnsafeMutablePointer<Float>? {
    guard count >= minimum else { return nil }
    return pool.withLock { pool in
      guard let address = pool.kept[count]?.popLast() else { return nil }
      pool.bytes -= count * MemoryLayout<Float>.size
      return UnsafeMutablePointer(bitPattern: address)
    }
  }

  /// Keeps `pointer` for reuse; false when it is too small or the pool is full.
  static func keep(_ pointer: UnsafeMutablePointer<Float>, count: Int) -> Bool {
    guard count >= minimum else { return false }
    return pool.withLock { pool in
      let bytes = count * MemoryLayout<Float>.size
      guard pool.bytes + bytes <= limit else { return false }
      pool.kept[count, default: []].append(UInt(bitPattern: pointer))
      pool.bytes += bytes
      return true
    }
  }
}

/// An n-dimensional array of `Float` in contiguous row-major storage that records the
/// operations applied to it, so that `backward()` can compute gradients.
///
/// Tensors are reference types: operations return new tensors and leave their inputs
/// unchanged. The only in-place mutations are the explicit `assign`/`update` methods used
/// by optimizers and checkpoint loading.
public final class Tensor: @unchecked Sendable {
  /// The size of each dimension; `[]` for a scalar.
  public let shape: [Int]
  /// The number of elements, the product of `shape`.
  public let count: Int
  let storage: Storage

  /// Whether gradients flow to this tensor. Leaf tensors with this flag set receive
  /// `grad` from `backward()`.
  public var requiresGrad: Bool
  /// The accumulated gradient of a leaf tensor after `backward()`.
  public var grad: Tensor?
  /// How this tensor was computed, when it is part of a recorded graph.
  private(set) var gradFn: GradFn?

  /// The number of dimensions.
  public var rank: Int { shape.count }
  /// A pointer to the first element.
  var pointer: UnsafeMutablePointer<Float> { storage.pointer }

  init(shape: [Int], storage: Storage, gradFn: GradFn? = nil, requiresGrad: Bool = false) {
    self.shape = shape
    self.count = storage.count
    self.storage = storage
    self.gradFn = gradFn
    self.requiresGrad = requiresGrad || gradFn != nil
  }

  /// Frees a recorded graph with a loop. Letting each node's release free its inputs
  /// would nest one deinit per op and overflow the stack on long chains.
  deinit {
    guard var pending = gradFn?.inputs else { return }
    gradFn = nil
    while var node = pending.popLast() {
      if isKnownUniquelyReferenced(&node), let inputs = node.gradFn?.inputs {
        pending.append(contentsOf: inputs)
        node.gradFn = nil
      }
    }
  }

  /// A tensor with uninitialised contents (internal: kernels fill it).
  init(uninitialized shape: [Int]) {
    let n = Shape.count(shape, op: "Tensor")
    self.shape = shape
    self.count = n
    self.storage = Storage(count: n)
    self.gradFn = nil
    self.requiresGrad = false
  }

  /// A tensor holding `values` in row-major order.
  public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
    let n = Shape.count(shape, op: "Tensor(_:shape:)")
    require(
      n == values.count,
      "Tensor(_:shape:): \(values.count) values cannot fill shape \(shape) (\(n) elements)")
    self.init(uninitialized: shape)
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: n) }
    self.requiresGrad = requiresGrad
  }

  /// A one-dimensional tensor holding `values`.
  public convenience init(_ values: [Float], requiresGrad: Bool = false) {
    self.init(values, shape: [values.count], requiresGrad: requiresGrad)
  }

  /// A scalar (rank-0) tensor.
  public convenience init(scalar: Float, requiresGrad: Bool = false) {
    self.init([scalar], shape: [], requiresGrad: requiresGrad)
  }

  /// The elements in row-major order.
  public var scalars: [Float] {
    Array(UnsafeBufferPointer(start: pointer, count: count))
  }

  /// The single element of a tensor with one element.
  public var item: Float {
    require(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
    return pointer[0]
  }

  /// Read-only access to the elements.
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R)
    rethrows -> R
  {
    try body(UnsafeBufferPointer(start: pointer, count: count))
  }

  /// Mutable access to the elements, for optimizers and loaders. Mutating a tensor that a
  /// recorded graph still needs for its backward pass gives wrong gradients.
  public func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    try body(UnsafeMutableBufferPointer(start: pointer, count: count))
  }

  /// Copies the elements of `other`, which must have the same shape, into this tensor.
  public func assign(_ other: Tensor) {
    require(
      other.shape == shape, "assign: source shape \(other.shape) differs from target \(shape)")
    pointer.update(from: other.pointer, count: count)
  }

  /// Copies `values` into this tensor.
  public func assign(_ values: [Float]) {
    require(
      values.count == count,
      "assign: \(values.count) values for a tensor of shape \(shape) (\(count) elements)")
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
  }

  /// A tensor sharing this one's storage, cut from the graph.
  public func detached() -> Tensor {
    Tensor(shape: shape, storage: storage)
  }

  /// A new tensor with a copy of the elements, cut from the graph.
  public func copy() -> Tensor {
    let out = Tensor(uninitialized: shape)
    out.pointer.update(from: pointer, count: count)
    return out
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
    let more = count > 8 ? ", … (\(count) elements)" : ""
    return "Tensor(shape: \(shape), [\(shown)\(more)])"
  }
}

/// Stops with `message` when `condition` is false, in every build configuration.
/// Used for programmer errors: wrong shapes, axes or indices.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
  if !condition { fatalError(message()) }
}
