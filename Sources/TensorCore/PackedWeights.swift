import CKernels
import Foundation

/// Weight matrices `[out, in]` packed once for the many small products `x · Wᵀ` of one
/// sampling call, which runs without the tape.
///
/// At decoding's few rows per product, BLAS spends nearly as long packing the weight
/// (again on every call) as multiplying. Here each matrix is packed into panels of 16
/// output columns when sampling starts, and Allot's kernel (AVX-512, or AVX2 with FMA)
/// multiplies the panels directly. Every output element is one fma chain over the inputs
/// in order, from zero, then plus its bias: the same bits on both kernels, and a row's
/// result does not depend on the rows beside it. The packed copies take as much memory as
/// the weights, so they live only as long as the sampling call that made them.
public final class PackedWeights {
  /// Whether this CPU runs the kernel and the environment does not turn it off
  /// (`ALLOT_PACKED_WEIGHTS=0`, for comparisons). Where not, nothing is packed and
  /// `linear` is `Tensor.linear`.
  public static let isAvailable =
    allot_packed_kernel() > 0 && ProcessInfo.processInfo.environment["ALLOT_PACKED_WEIGHTS"] != "0"

  /// Each packed weight by identity, with the weight kept alive so that its identity
  /// cannot be reused.
  private var packed: [ObjectIdentifier: (weight: Tensor, panels: Tensor)] = [:]

  /// Packs each matrix of `weights` (rank 2, `[out, in]`) as it is now; a weight changed
  /// afterwards must be packed again.
  public init(_ weights: [Tensor]) {
    guard Self.isAvailable else { return }
    for weight in weights where packed[ObjectIdentifier(weight)] == nil {
      require(weight.rank == 2, "PackedWeights: weight \(weight.shape) should be [out, in]")
      let (n, k) = (weight.shape[0], weight.shape[1])
      let panelCount = (n + Int(ALLOT_PANEL) - 1) / Int(ALLOT_PANEL)
      let panels = Tensor(uninitialized: [panelCount, k, Int(ALLOT_PANEL)])
      allot_pack_panels(weight.pointer, panels.pointer, n, k)
      packed[ObjectIdentifier(weight)] = (weight, panels)
    }
  }

  /// The number of matrices packed.
  public var count: Int { packed.count }

  /// `x · Wᵀ + bias` for `x` `[..., in]`, as `Tensor.linear` computes it: with the packed
  /// copy of `weight` when there is one and the tape is off, otherwise (and for empty or
  /// mismatched shapes, which it reports) by `Tensor.linear`.
  public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (n, k) = (weight.shape[0], weight.shape[1])
    guard let entry = packed[ObjectIdentifier(weight)], !GradMode.enabled,
      x.rank >= 1, x.shape[x.rank - 1] == k, bias == nil || bias!.shape == [n],
      k > 0, n > 0, x.count > 0
    else { return Tensor.linear(x, weight: weight, bias: bias) }
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
    allot_packed_product(
      x.pointer, entry.panels.pointer, bias.map { UnsafePointer($0.pointer) }, out.pointer,
      x.count / k, n, k)
    return out
  }
}
