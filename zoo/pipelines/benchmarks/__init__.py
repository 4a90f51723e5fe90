"""Benchmark modules of `talkzoo bench`; each registers its entries with `zoo.pipelines.bench.register`."""
