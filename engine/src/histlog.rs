//! HdrHistogram interval logs: written by the engine reporter, read by histo-dump. Work in progress.
