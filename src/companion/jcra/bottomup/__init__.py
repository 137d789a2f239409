"""The bottom-up baseline for JCRA's speed claim: an associative-embedding model (heatmaps plus
tag maps, HigherHRNet family) on JCRA's backbone, its loss, and its post-processing."""
