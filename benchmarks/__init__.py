"""Side-by-side benchmarks of tokenward and its peers (run with ``make bench``)."""
