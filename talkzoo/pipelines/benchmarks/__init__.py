"""Benchmark modules of `talkzoo bench`; each registers its entries with `talkzoo.pipelines.bench.register`."""
