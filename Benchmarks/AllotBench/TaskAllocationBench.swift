func benchmarkTaskAllocation() { print("task-allocation benchmarks: not yet written") }
