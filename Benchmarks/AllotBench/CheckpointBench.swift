func benchmarkCheckpoint() { print("checkpoint benchmarks: not yet written") }
