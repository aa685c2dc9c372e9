import CKernels

extension Tensor {
  /// RMS normalisation over the last dimension, as in Llama-family models:
  /// x / √(mean(x²) + eps) · weight. `weight` is `[D]` for an input `[..., D]`.
  /// Fused (a C kernel each way); gradients flow to the input and the weight.
  public func rmsNorm(weight: Tensor, eps: Float) -> Tensor {
    require(rank >= 1, "rmsNorm: needs rank ≥ 1, got a scalar")
    let d = shape[rank - 1]
    require(weight.shape == [d], "rmsNorm: weight shape \(weight.shape) should be [\(d)]")
    let rows = d == 0 ? 0 : count / d
    let out = Tensor(uninitialized: shape)
    let rstd = Tensor(uninitialized: [rows])
    allot_rms_norm_forward(pointer, weight.pointer, out.pointer, rstd.pointer, rows, d, eps)
    return Tensor.result(out, op: "rmsNorm", inputs: [self, weight]) { g in
      let dx = Tensor(uninitialized: self.shape)
      let dw = Tensor.zeros([d])
      allot_rms_norm_backward(
        g.pointer, self.pointer, weight.pointer, rstd.pointer, dx.pointer, dw.pointer, rows, d)
      return [dx, dw]
    }
  }
}
