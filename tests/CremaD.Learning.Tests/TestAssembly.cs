// LibTorch's random generator and thread count are process-wide: tests that seed or train must not overlap.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
