import CBLAS
import CKernels

// Matrix products. Every product runs through `cblas_sgemm`; batched products are loops of
// sgemm calls, or one call when a shared right operand lets the batch fold into rows.

/// OpenBLAS thread control. Allot defaults to one thread: the machines it targets have few
/// cores and are often shared. Call `BLAS.setThreads` before heavy work to change it.
public enum BLAS {
  /// The number of threads OpenBLAS uses.
  public static var threads: Int { Int(openblas_get_num_threads()) }

  /// Sets the number of threads OpenBLAS uses.
  public static func setThreads(_ n: Int) {
    require(n >= 1, "BLAS.setThreads: thread count must be ≥ 1, got \(n)")
    openblas_set_num_threads(Int32(n))
  }
}

/// One sgemm on row-major sub-matrices with explicit leading dimensions (row strides):
/// C[m×n] = alpha·op(A)·op(B) + beta·C, where op(A) is m×k. Every product in Allot goes
/// through here. With beta = 0, C is cleared by memset and the product added onto it:
/// OpenBLAS's own β = 0 pass is slower than memset and gives the same bits.
@inline(__always)
func sgemm(
  _ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  if beta == 0 {
    if ldc == n {
      c.update(repeating: 0, count: m * n)
    } else {
      for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    }
  }
  if k == 0 { return }
  if m == 1 {
    // One row (decoding a single sequence): a matrix-vector product reads op(B) once,
    // where sgemm would first copy (pack) all of it.
    cblas_sgemv(
      CblasRowMajor, transB ? CblasNoTrans : CblasTrans, Int32(transB ? n : k),
      Int32(transB ? k : n), alpha, b, Int32(ldb), a, Int32(transA ? lda : 1), beta == 0 ? 1 : beta,
      c, 1)
    return
  }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta == 0 ? 1 : beta, c,
    Int32(ldc))
}

/// One sgemm on whole row-major matrices: C[m×n] = alpha·op(A)·op(B) + beta·C.
@inline(__always)
func sgemm(
  _ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int,
  _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
  alpha: Float = 1, beta: Float = 0
) {
  sgemm(
    transA, transB, m: m, n: n, k: k, alpha: alpha, a, lda: transA ? m : k, b,
    ldb: transB ? k : n, beta: beta, c, ldc: n)
}

/// A batch of row-major matrices laid end to end; `stride` 0 means one matrix shared by
/// every batch entry.
struct MatrixBatch {
  var pointer: UnsafeMutablePointer<Float>
  var stride: Int
  var transposed: Bool
}

/// C[i] (+)= op(A[i])·op(B[i]) for every batch entry. When C is shared (stride 0) the
/// products are summed into it, which is how gradients of shared operands accumulate.
func batchedGemm(
  _ a: MatrixBatch, _ b: MatrixBatch, _ c: MatrixBatch, batch: Int, m: Int, n: Int, k: Int
) {
  if c.stride != 0 && b.stride == 0 && !a.transposed && (a.stride == m * k || batch == 1) {
    // A shared right operand: fold the batch into the rows of one product.
    sgemm(false, b.transposed, m: batch * m, n: n, k: k, a.pointer, b.pointer, c.pointer)
    return
  }
  if c.stride == 0 && a.stride != 0 && b.stride != 0 && a.transposed && !b.transposed
    && a.stride == k * m && b.stride == k * n
  {
    // Σ_i A[i]ᵀ·B[i] with contiguous batches is one product over the stacked rows.
    sgemm(true, false, m: m, n: n, k: batch * k, a.pointer, b.pointer, c.pointer)
    return
  }
  for i in 0..<batch {
    sgemm(
      a.transposed, b.transposed, m: m, n: n, k: k,
      a.pointer + i * a.stride, b.pointer + i * b.stride, c.pointer + i * c.stride,
      beta: c.stride == 0 && i > 0 ? 1 : 0)
  }
}

extension Tensor {
  /// Matrix product over the last two dimensions: `[..., m, k] × [..., k, n] → [..., m, n]`.
  /// Leading (batch) dimensions must match, or one side may have none (it is shared).
  /// `transposeA`/`transposeB` use the transpose of an operand's last two dimensions
  /// without copying it.
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
  ) -> Tensor {
    require(
      a.rank >= 2 && b.rank >= 2,
      "matmul: operands need rank ≥ 2, got shapes \(a.shape) and \(b.shape)")
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let (kb, n) = transposeB ? (bc, br) : (br, bc)
    let aBatch = Array(a.shape.dropLast(2))
    let bBatch = Array(b.shape.dropLast(2))
    require(
      k == kb,
      "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") × "
        + "\(b.shape)\(transposeB ? "ᵀ" : "") (\(k) vs \(kb))")
    require(
      aBatch == bBatch || aBatch.isEmpty || bBatch.isEmpty,
      "matmul: batch dimensions \(aBatch) and \(bBatch) differ (shapes \(a.shape), \(b.shape))")
    let batchShape = aBatch.isEmpty ? bBatch : aBatch
    let batch = batchShape.reduce(1, *)
    let aStride = aBatch.isEmpty ? 0 : m * k
    let bStride = bBatch.isEmpty ? 0 : k * n
    let out = Tensor(uninitialized: batchShape + [m, n])
    batchedGemm(
      MatrixBatch(pointer: a.pointer, stride: aStride, transposed: transposeA),
      MatrixBatch(pointer: b.pointer, stride: bStride, transposed: transposeB),
      MatrixBatch(pointer: out.pointer, stride: m * n, transposed: false),
      batch: batch, m: m, n: n, k: k)

    return result(out, op: "matmul", inputs: [a, b]) { g in
      let gm = MatrixBatch(pointer: g.pointer, stride: m * n, transposed: false)
      var gradA: Tensor?
      var gradB: Tensor?
      if a.requiresGrad {
        let da = Tensor(uninitialized: a.shape)
        let out = MatrixBatch(pointer: da.pointer, stride: aStride, transposed: false)
        let bm = MatrixBatch(pointer: b.pointer, stride: bStride, transposed: !transposeB)
        if transposeA {
          // dA = op(B)·gᵀ
          var bOp = bm
          bOp.transposed = transposeB
          var gT = gm
          gT.transposed = true
          batchedGemm(bOp, gT, out, batch: batch, m: k, n: m, k: n)
        } else {
          batchedGemm(gm, bm, out, batch: batch, m: m, n: k, k: n)  // dA = g·op(B)ᵀ
        }
        gradA = da
      }
      if b.requiresGrad {
        let db = Tensor(uninitialized: b.shape)
        let out = MatrixBatch(pointer: db.pointer, stride: bStride, transposed: false)
        if transposeB {
          // dB = gᵀ·op(A)
          var gT = gm
          gT.transposed = true
          let am = MatrixBatch(pointer: a.pointer, stride: aStride, transposed: transposeA)
          batchedGemm(gT, am, out, batch: batch, m: n, n: k, k: m)
        } else {
          // dB = op(A)ᵀ·g
          let am = MatrixBatch(pointer: a.pointer, stride: aStride, transposed: !transposeA)
          batchedGemm(am, gm, out, batch: batch, m: k, n: n, k: m)
        }
        gradB = db
      }
      return [gradA, gradB]
    }
  }

  /// `x · weightᵀ + bias` over the last dimension, the affine map of a `Linear` layer:
  /// `x` is `[..., in]`, `weight` is `[out, in]`, `bias` is `[out]`. Fused: the bias is
  /// written first and the product added onto it by one sgemm.
  public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    require(
      weight.rank == 2 && x.rank >= 1 && x.shape[x.rank - 1] == weight.shape[1],
      "linear: input \(x.shape) does not match weight [out, in] = \(weight.shape)")
    let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
    if let bias {
      require(
        bias.shape == [outFeatures],
        "linear: bias shape \(bias.shape) should be [\(outFeatures)]")
    }
    let rows = x.count / Swift.max(inFeatures, 1)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
    if let bias {
      for r in 0..<rows {
        (out.pointer + r * outFeatures).update(from: bias.pointer, count: outFeatures)
      }
    }
    sgemm(
      false, true, m: rows, n: outFeatures, k: inFeatures, x.pointer, weight.pointer,
      out.pointer, beta: bias == nil ? 0 : 1)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return result(out, op: "linear", inputs: inputs) { g in
      var grads: [Tensor?] = []
      if x.requiresGrad {
        let dx = Tensor(uninitialized: x.shape)
        sgemm(
          false, false, m: rows, n: inFeatures, k: outFeatures, g.pointer, weight.pointer,
          dx.pointer)
        grads.append(dx)
      } else {
        grads.append(nil)
      }
      if weight.requiresGrad {
        let dw = Tensor(uninitialized: weight.shape)
        sgemm(
          true, false, m: outFeatures, n: inFeatures, k: rows, g.pointer, x.pointer, dw.pointer)
        grads.append(dw)
      } else {
        grads.append(nil)
      }
      if let bias {
        if bias.requiresGrad {
          let db = Tensor(uninitialized: [outFeatures])
          allot_column_sums(g.pointer, db.pointer, rows, outFeatures)
          grads.append(db)
        } else {
          grads.append(nil)
        }
      }
      return grads
    }
  }
}
