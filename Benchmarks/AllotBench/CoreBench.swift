func benchmarkCore() { print("core benchmarks: not yet written") }
