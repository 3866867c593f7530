// An empty module: the baseline of the cold-import benchmark.
export {};
